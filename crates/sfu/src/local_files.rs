//! This computer's library to the app's own page: a loopback HTTP server for its `<video>` and
//! `<audio>`. WebKitGTK streams media from HTTP with ranges, but sends no range requests to a
//! custom URI scheme (WebKit bug 146351), so the page played a lesson's video from a `blob:`
//! holding the whole file in the web process (and refused files over 512 MB). Served: only on
//! 127.0.0.1, only under this run's random secret (another local user cannot guess the
//! address), only files some material of the library names, each checked against its hash the
//! first time it is served in this run; answered with ranges as the lesson service does.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use classroom_store::{ContentHash, StoreHandle};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tracing::debug;

use crate::web::{Body, error_response};

/// The server; stops when dropped.
pub struct LocalFiles {
    addr: SocketAddr,
    secret: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LocalFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalFiles")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

struct Shared {
    store: StoreHandle,
    secret: String,
    /// Hashes checked against their files in this run.
    checked: Mutex<HashSet<String>>,
    /// Requests refused (no such file, no secret, another method).
    refused: AtomicU64,
}

impl LocalFiles {
    /// Serves `store`'s files on a free loopback port.
    pub async fn start(store: StoreHandle) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let shared = Arc::new(Shared {
            store,
            secret: secret.clone(),
            checked: Mutex::new(HashSet::new()),
            refused: AtomicU64::new(0),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(shared.clone(), req));
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        debug!("local file connection ended: {e}");
                    }
                });
            }
        });
        Ok(Self {
            addr,
            secret,
            shared,
            task,
        })
    }

    /// Requests refused so far (another local program guessing at it shows here).
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// The address the page loads the file with content `hash` from.
    pub fn url(&self, hash: &ContentHash) -> String {
        format!("http://{}/{}/{}", self.addr, self.secret, hash.as_str())
    }
}

impl Drop for LocalFiles {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Equal without telling by its timing how much of it was.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

async fn answer(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, Infallible> {
    let not_found = || {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        error_response(StatusCode::NOT_FOUND, "no such file")
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        return Ok(error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD",
        ));
    }
    let mut parts = req.uri().path().trim_start_matches('/').split('/');
    let (Some(secret), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(not_found());
    };
    let Ok(hash) = ContentHash::parse(hash) else {
        return Ok(not_found());
    };
    if !same(secret, &shared.secret) {
        return Ok(not_found());
    }
    let lookup = hash.clone();
    let Ok(Some(file)) = shared.store.run(move |s| s.library_file(&lookup)).await else {
        return Ok(not_found());
    };
    let key = hash.as_str().to_owned();
    let checked = shared
        .checked
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&key);
    if !checked {
        // Read through once (a damaged copy is removed by the store and not served).
        let lookup = hash.clone();
        if shared
            .store
            .run(move |s| s.open_file(&lookup))
            .await
            .is_err()
        {
            return Ok(not_found());
        }
        shared
            .checked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key);
    }
    Ok(
        match crate::lessons::ranged_file(&req, &file, &hash).await {
            Ok((response, _)) => response,
            Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use classroom_store::{Course, Lesson, Material, MaterialKind, StoreOptions};

    async fn get(url: &str, range: Option<&str>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let uri: hyper::Uri = url.parse().expect("uri");
        let authority = uri.authority().expect("authority").to_string();
        let stream = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::get(uri.path()).header("host", authority);
        if let Some(range) = range {
            req = req.header("range", range);
        }
        let res = sender
            .send_request(
                req.body(http_body_util::Empty::<bytes::Bytes>::new())
                    .expect("req"),
            )
            .await
            .expect("response");
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn the_librarys_files_are_served_with_ranges_under_the_secret_only() {
        let dir = tempfile::tempdir().expect("dir");
        let store =
            StoreHandle::open(dir.path().to_owned(), StoreOptions::default()).expect("store");
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let data = bytes.clone();
        let hash = store
            .run(move |s| {
                let hash = s.save_bytes(&data)?;
                s.put_course(&Course {
                    id: "c".into(),
                    title: "C".into(),
                    teacher: String::new(),
                    origin: String::new(),
                })?;
                s.put_lesson(&Lesson {
                    id: "l".into(),
                    course_id: "c".into(),
                    title: "L".into(),
                    notes: String::new(),
                    position: 0,
                    updated_ms: 0,
                })?;
                s.put_material(&Material {
                    id: "m".into(),
                    lesson_id: "l".into(),
                    kind: MaterialKind::Video,
                    title: "v.webm".into(),
                    hash: hash.clone(),
                    size: data.len() as u64,
                    mime: "video/webm".into(),
                    position: 0,
                })?;
                Ok(hash)
            })
            .await
            .expect("a file in the library");
        let files = LocalFiles::start(store).await.expect("server");
        let url = files.url(&hash);
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");

        let (status, headers, body) = get(&url, None).await;
        assert_eq!((status, body.len()), (200, bytes.len()));
        assert!(headers.contains(&("content-type".into(), "video/webm".into())));
        assert!(headers.contains(&("accept-ranges".into(), "bytes".into())));
        let (status, headers, body) = get(&url, Some("bytes=1000-1999")).await;
        assert_eq!(status, 206);
        assert_eq!(body, bytes[1000..2000]);
        assert!(headers.contains(&("content-range".into(), "bytes 1000-1999/100000".into())));
        let (status, _, _) = get(&url, Some("bytes=200000-")).await;
        assert_eq!(status, 416);

        // Without the secret, with another, or for a file the library does not name: nothing.
        let other = ContentHash::of(b"not in the library");
        let wrong = url.replace(&files.secret, &"0".repeat(32));
        for bad in [
            wrong,
            format!("http://{}/{}", files.addr, hash.as_str()),
            files.url(&other),
            format!("{url}/more"),
        ] {
            assert_eq!(get(&bad, None).await.0, 404, "{bad}");
        }
        assert_eq!(files.refused(), 4, "each refusal counted");
    }
}
