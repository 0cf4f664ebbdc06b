//! Encrypted signaling from the client's side, against the real server on 127.0.0.1:0: a
//! pinned self-signed certificate is reached, a wrong pin is refused with a clear error, a
//! certificate signed by a school's own authority is accepted with that authority as a
//! root, and cleartext to another machine is refused. No media: the teacher joins without
//! publishing.

use std::time::Duration;

use classroom_client::{ClientError, JoinOptions, SessionEvent, connect};
use classroom_protocol::Role;
use classroom_sfu::{ServerConfig, ServerHandle, Tls, start};

async fn tls_server(tls: Tls) -> ServerHandle {
    start(ServerConfig {
        tls,
        ..ServerConfig::loopback()
    })
    .await
    .expect("server")
}

fn options(h: &ServerHandle) -> JoinOptions {
    let token = h
        .mint_token("r", "t", Role::Teacher, Duration::from_secs(60))
        .expect("token");
    JoinOptions::new(&h.url(), &token, "r", "Teacher", Role::Teacher)
}

async fn joins(opts: JoinOptions) -> Result<(), ClientError> {
    let (session, mut events) = connect(opts).await?;
    match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
        Ok(Some(SessionEvent::Joined { .. })) => {}
        other => panic!("no joined: {other:?}"),
    }
    session.leave().await;
    Ok(())
}

#[tokio::test]
async fn a_pinned_self_signed_server_is_reached_and_a_wrong_pin_refused() {
    let h = tls_server(Tls::SelfSigned {
        names: vec!["127.0.0.1".into()],
    })
    .await;
    assert!(h.url().starts_with("wss://127.0.0.1:"), "{}", h.url());
    let print = h.fingerprint().expect("TLS on");
    joins(JoinOptions {
        pin: Some(print),
        ..options(&h)
    })
    .await
    .expect("pinned join");

    let mut wrong = print;
    wrong[0] ^= 1;
    let err = joins(JoinOptions {
        pin: Some(wrong),
        ..options(&h)
    })
    .await
    .expect_err("wrong pin");
    match &err {
        ClientError::PinMismatch { expected, actual } => {
            assert_eq!((*expected, *actual), (wrong, print));
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&classroom_protocol::fingerprint::to_hex(&print)),
        "{text}"
    );

    // Without a pin the self-signed certificate is nobody's: refused.
    let err = joins(options(&h)).await.expect_err("unpinned");
    assert!(matches!(err, ClientError::Tls(_)), "{err}");
    h.shutdown().await;
}

#[tokio::test]
async fn a_certificate_from_a_schools_own_authority_is_accepted_with_it_as_a_root() {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "School CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &issuer)
        .expect("leaf");
    let h = tls_server(Tls::Pem {
        cert_chain: format!("{}{}", leaf.pem(), ca.pem()).into_bytes(),
        key: leaf_key.serialize_pem().into_bytes(),
    })
    .await;
    joins(JoinOptions {
        extra_roots: vec![ca.der().to_vec()],
        ..options(&h)
    })
    .await
    .expect("the school's CA vouches for it");
    let err = joins(options(&h)).await.expect_err("unknown authority");
    assert!(matches!(err, ClientError::Tls(_)), "{err}");
    h.shutdown().await;
}

#[tokio::test]
async fn cleartext_to_another_machine_is_refused_unless_allowed() {
    // TEST-NET-1: refused before any connection is tried.
    let opts = JoinOptions::new("ws://192.0.2.1:8443/ws", "t", "r", "S", Role::Student);
    let err = match connect(opts).await {
        Err(e) => e,
        Ok(_) => panic!("connected in clear"),
    };
    assert!(
        matches!(&err, ClientError::Insecure { host } if host == "192.0.2.1"),
        "{err}"
    );
    assert!(err.to_string().contains("wss://"), "{err}");
    // Loopback stays allowed in clear (a class on one computer).
    let h = start(ServerConfig::loopback()).await.expect("server");
    joins(options(&h)).await.expect("ws:// on loopback");
    h.shutdown().await;
}

#[tokio::test]
async fn the_connection_check_reaches_the_real_server_with_its_pin_and_joins_nothing() {
    let h = tls_server(Tls::SelfSigned {
        names: vec!["127.0.0.1".into()],
    })
    .await;
    let print = h.fingerprint().expect("TLS on");
    let probe = classroom_client::probe::probe(&h.url(), Some(print), false, 5)
        .await
        .expect("probe");
    assert!(probe.secure);
    assert_eq!(probe.round_trips_ms.len(), 5);
    assert!(probe.connect_ms > 0.0 && probe.round_trips_ms.iter().all(|&ms| ms > 0.0));

    // The same pin rule as a join: a wrong pin is refused, naming both fingerprints.
    let mut wrong = print;
    wrong[0] ^= 1;
    let err = classroom_client::probe::probe(&h.url(), Some(wrong), false, 5)
        .await
        .expect_err("wrong pin");
    assert!(matches!(err, ClientError::PinMismatch { .. }), "{err}");
    h.shutdown().await;
}
