//! Access tokens: HS256-signed JWTs naming the room, the identity, the role and what the holder
//! may do (publish which sources, subscribe), with an expiry. Every join must carry one.
//!
//! Verification takes the current Unix time as an argument so the core stays free of clocks.

use std::fmt;
use std::time::Duration;

use classroom_protocol::{Role, Source};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated between the minting and the verifying machine.
pub const LEEWAY_SECS: u64 = 30;

/// Shortest secret accepted: HS256 wants at least as many bytes as its output.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a token allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Grants {
    /// Sources the holder may publish; empty means no publishing.
    pub publish: Vec<Source>,
    /// Whether the holder may receive the room's tracks.
    pub subscribe: bool,
}

impl Grants {
    /// The usual grants for a role: staff publish everything, students camera and microphone
    /// (answering a question, coming on stage), observers only watch.
    pub fn for_role(role: Role) -> Self {
        let publish = match role {
            Role::Teacher | Role::Assistant => {
                vec![Source::Camera, Source::Microphone, Source::Screen]
            }
            Role::Student => vec![Source::Camera, Source::Microphone],
            _ => Vec::new(),
        };
        Grants {
            publish,
            subscribe: true,
        }
    }
}

/// The token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Identity of the holder (a user id).
    pub sub: String,
    /// The one room the token opens.
    pub room: String,
    /// The role granted.
    pub role: Role,
    /// What the holder may do.
    pub grants: Grants,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// An invite, not a personal token: whoever holds it joins as a fresh identity (`sub`
    /// is ignored) and is given a personal token at join.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invite: bool,
    /// A companion session of this staff member (their identity): the teacher's app's own
    /// second connection, which its recording receives through. The class lets it in only
    /// as an observer while that staff member is there, lists and counts it nowhere and
    /// closes it when they leave (`classroom::Entry::companion_of`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub companion_of: Option<String>,
}

impl Claims {
    /// Claims for `identity` in `room` as `role` with the role's usual grants, valid for `ttl`.
    pub fn new(room: &str, identity: &str, role: Role, ttl: Duration, unix_now: u64) -> Self {
        Claims {
            sub: identity.to_owned(),
            room: room.to_owned(),
            role,
            grants: Grants::for_role(role),
            iat: unix_now,
            exp: unix_now.saturating_add(ttl.as_secs()),
            invite: false,
            companion_of: None,
        }
    }

    /// An invite to `room` as `role`, valid for `ttl`: exchanged at join for a personal
    /// token with an identity of its own.
    pub fn invite(room: &str, role: Role, ttl: Duration, unix_now: u64) -> Self {
        Claims {
            invite: true,
            ..Claims::new(room, "invite", role, ttl, unix_now)
        }
    }
}

/// Why a token was refused or could not be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessError {
    /// Not a token signed with this server's secret, or not one of ours at all.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// Past its expiry.
    #[error("token expired {0} s ago")]
    Expired(u64),
    /// The configured secret is too short to be safe.
    #[error("secret must be at least {MIN_SECRET_BYTES} bytes, got {0}")]
    WeakSecret(usize),
    /// The system gave no randomness for a fresh secret.
    #[error("no randomness for a secret: {0}")]
    Random(String),
    /// Signing failed.
    #[error("cannot sign token: {0}")]
    Mint(String),
}

/// The server's signing secret.
#[derive(Clone)]
pub struct AccessKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(<secret>)")
    }
}

impl AccessKey {
    /// A key from a shared secret (for a standalone server and whoever mints its tokens).
    pub fn from_secret(secret: &[u8]) -> Result<Self, AccessError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(AccessError::WeakSecret(secret.len()));
        }
        Ok(AccessKey {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// A fresh random key: for a server embedded in the teacher's app, which mints its own
    /// tokens and shares them with its students.
    pub fn random() -> Result<Self, AccessError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| AccessError::Random(e.to_string()))?;
        Self::from_secret(&secret)
    }

    /// Signs claims into a token.
    pub fn mint(&self, claims: &Claims) -> Result<String, AccessError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AccessError::Mint(e.to_string()))
    }

    /// Checks the signature and expiry; returns the claims.
    pub fn verify(&self, token: &str, unix_now: u64) -> Result<Claims, AccessError> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked below against the time we were given, not the library's clock.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp".to_owned(), "sub".to_owned()].into();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| AccessError::Invalid(e.to_string()))?;
        let claims = data.claims;
        if claims.exp.saturating_add(LEEWAY_SECS) < unix_now {
            return Err(AccessError::Expired(unix_now.saturating_sub(claims.exp)));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn key() -> AccessKey {
        AccessKey::from_secret(&[7u8; 32]).expect("key")
    }

    #[test]
    fn minted_tokens_verify_and_carry_their_claims() {
        let claims = Claims::new("math", "ada", Role::Student, Duration::from_secs(3600), NOW);
        let token = key().mint(&claims).expect("mint");
        assert_eq!(key().verify(&token, NOW + 10).expect("valid"), claims);
        assert_eq!(
            claims.grants.publish,
            vec![Source::Camera, Source::Microphone]
        );
    }

    #[test]
    fn a_companion_token_names_its_staff_member_and_others_say_nothing_of_it() {
        let plain = Claims::new("math", "ms-li", Role::Teacher, Duration::from_secs(60), NOW);
        let json = serde_json::to_string(&plain).expect("json");
        assert!(!json.contains("companion"), "{json}");
        let companion = Claims {
            companion_of: Some("ms-li".into()),
            ..Claims::new("math", "rec", Role::Observer, Duration::from_secs(60), NOW)
        };
        let token = key().mint(&companion).expect("mint");
        let read = key().verify(&token, NOW).expect("valid");
        assert_eq!(read.companion_of.as_deref(), Some("ms-li"));
        assert_eq!(read, companion);
    }

    #[test]
    fn expired_forged_and_garbage_tokens_are_refused() {
        let claims = Claims::new("math", "ada", Role::Teacher, Duration::from_secs(60), NOW);
        let token = key().mint(&claims).expect("mint");
        assert_eq!(
            key().verify(&token, NOW + 60 + LEEWAY_SECS + 5),
            Err(AccessError::Expired(LEEWAY_SECS + 5))
        );
        let other = AccessKey::from_secret(&[8u8; 32]).expect("key");
        assert!(matches!(
            other.verify(&token, NOW),
            Err(AccessError::Invalid(_))
        ));
        for junk in [
            "",
            "a.b.c",
            "not a token",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        ] {
            assert!(
                matches!(key().verify(junk, NOW), Err(AccessError::Invalid(_))),
                "{junk}"
            );
        }
        // A payload edited after signing (role raised to teacher) fails the signature.
        let student = key()
            .mint(&Claims::new(
                "math",
                "ada",
                Role::Student,
                Duration::from_secs(60),
                NOW,
            ))
            .expect("mint");
        let parts: Vec<&str> = student.split('.').collect();
        let teacher = key()
            .mint(&Claims::new(
                "math",
                "ada",
                Role::Teacher,
                Duration::from_secs(60),
                NOW,
            ))
            .expect("mint");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            teacher.split('.').nth(1).expect("payload"),
            parts[2]
        );
        assert!(matches!(
            key().verify(&forged, NOW),
            Err(AccessError::Invalid(_))
        ));
    }

    #[test]
    fn ttl_and_expiry_arithmetic_saturates_instead_of_overflowing() {
        let forever = Claims::new("math", "ada", Role::Student, Duration::MAX, u64::MAX - 5);
        assert_eq!(forever.exp, u64::MAX);
        let token = key().mint(&forever).expect("mint");
        assert_eq!(key().verify(&token, u64::MAX).expect("valid").exp, u64::MAX);
        let mut old = Claims::new("math", "ada", Role::Student, Duration::ZERO, 0);
        old.exp = 0;
        let token = key().mint(&old).expect("mint");
        assert_eq!(
            key().verify(&token, u64::MAX),
            Err(AccessError::Expired(u64::MAX))
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(
            AccessKey::from_secret(b"short").err(),
            Some(AccessError::WeakSecret(5))
        );
        assert!(AccessKey::random().is_ok());
    }
}
