//! The invite link a teacher hands out: everything a student's app needs to join, in one
//! piece of text to paste (or, later, to open).
//!
//! `classroom://join?server=<wss-or-ws-url>&room=<room>&invite=<secret>[&pin=<fingerprint>]`,
//! each value percent-encoded. `pin` is the class server's certificate fingerprint (SHA-256,
//! unpadded base64url): a class on the school network has a self-signed certificate that the
//! student's app trusts only by this pin. The join screen reads the link
//! (`ui/src/lib/link.ts`) into its fields, and `join_class` checks them as typed ones.

use tauri::Url;

/// The link's scheme and path.
pub const PREFIX: &str = "classroom://join";

/// The invite link for a class.
pub fn invite_link(server: &str, room: &str, invite: &str, pin: Option<&str>) -> String {
    // A fixed, valid base: parsing it cannot fail.
    let mut url = Url::parse(PREFIX).unwrap_or_else(|_| unreachable!("{PREFIX} is a valid URL"));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("server", server)
            .append_pair("room", room)
            .append_pair("invite", invite);
        if let Some(pin) = pin {
            q.append_pair("pin", pin);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_survives_the_link_encoded() {
        let link = invite_link(
            "wss://192.168.1.20:8443/ws",
            "Physics 7B & friends",
            "k9Xz-_Q",
            Some("AbC-_0"),
        );
        assert!(link.starts_with("classroom://join?"), "{link}");
        let url = Url::parse(&link).expect("a URL");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("server".into(), "wss://192.168.1.20:8443/ws".into()),
                ("room".into(), "Physics 7B & friends".into()),
                ("invite".into(), "k9Xz-_Q".into()),
                ("pin".into(), "AbC-_0".into()),
            ]
        );
        assert!(!invite_link("ws://127.0.0.1:1/ws", "r", "s", None).contains("pin="));
    }
}
