//! Hosting a class from this computer: the class server embedded in the teacher's app, on the
//! school network (every usable interface, announced with DNS-SD) or on this computer only.
//!
//! The app and the LAN test both host through [`host`], so what the test proves in network
//! namespaces is what the app does.

use std::net::IpAddr;

use classroom_discovery::{AnnounceOptions, Announcement, Scope};
use classroom_sfu::{ServerConfig, ServerHandle, SfuError};
use serde::Serialize;
use tracing::warn;

/// How to host.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The class title, announced to students nearby.
    pub title: String,
    /// The teacher's display name, announced likewise.
    pub teacher: String,
    /// Listen on the school network and announce the class; `false`: this computer only.
    pub lan: bool,
    /// The port for signaling (TCP) and media (UDP) on the school network; a taken port falls
    /// back to a free one. [`classroom_sfu::DEFAULT_PORT`] unless there is a reason.
    pub port: u16,
    /// The mDNS port: [`classroom_discovery::MDNS_PORT`] except in tests.
    pub mdns_port: u16,
    /// Settings passed through to the server (simulcast, metrics); its addresses are
    /// replaced by `lan`/`port`.
    pub server: ServerConfig,
}

impl HostOptions {
    /// A class titled `title` taught by `teacher` on the school network, on the default port.
    pub fn lan(title: &str, teacher: &str) -> Self {
        HostOptions {
            title: title.to_owned(),
            teacher: teacher.to_owned(),
            lan: true,
            port: classroom_sfu::DEFAULT_PORT,
            mdns_port: classroom_discovery::MDNS_PORT,
            server: ServerConfig::loopback(),
        }
    }

    /// A class on this computer only: loopback, free ports, not announced.
    pub fn this_computer(title: &str, teacher: &str) -> Self {
        HostOptions {
            lan: false,
            ..HostOptions::lan(title, teacher)
        }
    }
}

/// Why a class could not be hosted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The server could not start (a port could not be bound).
    #[error("cannot start the class server: {0}")]
    Server(#[from] SfuError),
}

/// Who can reach a hosted class, for the teacher's screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Reachability {
    /// Hosted for the school network (not only this computer).
    pub lan: bool,
    /// The signaling port other computers connect to.
    pub port: u16,
    /// This computer's addresses on the school network now (empty: only this computer can
    /// join, e.g. no network is connected yet).
    pub addresses: Vec<IpAddr>,
    /// Whether the class is being announced to students nearby.
    pub announced: bool,
    /// Why it is not announced, when announcing failed.
    pub announce_error: Option<String>,
}

impl Reachability {
    /// True when no other computer can join now.
    pub fn only_this_computer(&self) -> bool {
        !self.lan || self.addresses.is_empty()
    }
}

/// A class server running in this process, and its announcement.
pub struct HostedClass {
    server: ServerHandle,
    announcement: Option<Announcement>,
    announce_error: Option<String>,
    lan: bool,
}

/// Starts the class server for `opts` and, on the school network, announces the class. A
/// failed announcement does not stop the class (students can still join by invite or code);
/// it is reported in [`HostedClass::reachability`].
pub async fn host(opts: HostOptions) -> Result<HostedClass, HostError> {
    // On the school network, signaling is TLS with a certificate made now: its fingerprint
    // is announced, starts the class code and travels in invites, so students' apps pin it
    // (no certificate authority is needed on a school LAN).
    let config = if opts.lan {
        ServerConfig {
            simulcast: opts.server.simulcast.clone(),
            access: opts.server.access.clone(),
            metrics: opts.server.metrics,
            class: opts.server.class.clone(),
            reports_dir: opts.server.reports_dir.clone(),
            lessons_dir: opts.server.lessons_dir.clone(),
            // Pinned by fingerprint, so the names matter little; clients skip the host name
            // check when they pin (a LAN server is reached by an address that may change).
            tls: classroom_sfu::Tls::SelfSigned {
                names: vec!["localhost".to_owned()],
            },
            ..ServerConfig::lan(opts.port)
        }
    } else {
        opts.server.clone()
    };
    let server = classroom_sfu::start(config).await?;
    let (announcement, announce_error) = if opts.lan {
        let fingerprint = server.fingerprint();
        let announce = AnnounceOptions {
            tls: fingerprint.is_some(),
            fingerprint: fingerprint.map(|f| classroom_protocol::fingerprint::to_base64url(&f)),
            scope: Scope::Lan,
            mdns_port: opts.mdns_port,
            ..AnnounceOptions::new(&opts.title, &opts.teacher, server.signaling_addr().port())
        };
        match classroom_discovery::announce(&announce) {
            Ok(a) => (Some(a), None),
            Err(e) => {
                warn!("the class is not announced on the local network: {e}");
                (None, Some(e.to_string()))
            }
        }
    } else {
        (None, None)
    };
    Ok(HostedClass {
        server,
        announcement,
        announce_error,
        lan: opts.lan,
    })
}

impl HostedClass {
    /// The server, to mint tokens and read its figures.
    pub fn server(&self) -> &ServerHandle {
        &self.server
    }

    /// The SHA-256 of the server's TLS certificate, when signaling is TLS (on the school
    /// network): what the teacher's own app and every student's pin.
    pub fn fingerprint(&self) -> Option<[u8; 32]> {
        self.server.fingerprint()
    }

    /// The URL the teacher's own app joins with (loopback: it keeps working when the
    /// network goes).
    pub fn local_url(&self) -> String {
        self.server.url()
    }

    /// The URL to give students: on the school network when there is one, else this
    /// computer's.
    pub fn invite_url(&self) -> String {
        self.server
            .lan_urls()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.server.url())
    }

    /// Who can reach the class now.
    pub fn reachability(&self) -> Reachability {
        Reachability {
            lan: self.lan,
            port: self.server.signaling_addr().port(),
            addresses: if self.lan {
                self.server.lan_ips()
            } else {
                Vec::new()
            },
            announced: self.announcement.is_some(),
            announce_error: self.announce_error.clone(),
        }
    }

    /// The DNS-SD instance the class is announced as.
    pub fn announced_as(&self) -> Option<&str> {
        self.announcement.as_ref().map(|a| a.instance())
    }

    /// Stops announcing (students see the class go), then says goodbye to every client (the
    /// teacher ended the class: the server is theirs) and stops the server.
    pub async fn shutdown(mut self) {
        drop(self.announcement.take());
        self.server.end_class().await;
    }
}

/// The class nearby that `code` was made for: the one whose announced certificate
/// fingerprint the code's first 8 characters check (see `classroom::code`). A class that
/// announces no fingerprint never matches: a code is only sent to a server it pins.
pub fn class_for_code<'a>(
    classes: &'a [classroom_discovery::NearbyClass],
    code: &str,
) -> Option<&'a classroom_discovery::NearbyClass> {
    classes.iter().find(|c| {
        c.fingerprint
            .as_deref()
            .and_then(|f| classroom_protocol::fingerprint::parse(f).ok())
            .is_some_and(|f| classroom::code::matches_fingerprint(code, &f))
    })
}

/// How `name` joins `class` (reached at `ip`) with its class `code`: `wss://` pinned to the
/// certificate the code checks, through the lobby. `None` when the class announces no
/// fingerprint.
pub fn code_join(
    class: &classroom_discovery::NearbyClass,
    ip: IpAddr,
    code: &str,
    name: &str,
) -> Option<crate::JoinOptions> {
    let pin = classroom_protocol::fingerprint::parse(class.fingerprint.as_deref()?).ok()?;
    Some(crate::JoinOptions {
        code: Some(code.to_owned()),
        pin: Some(pin),
        ..crate::JoinOptions::new(
            &class.url(ip),
            "",
            "",
            name,
            classroom_protocol::Role::Student,
        )
    })
}
