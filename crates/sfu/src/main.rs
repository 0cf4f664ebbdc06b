//! `classroom-server`: the classroom SFU as a standalone server for a school, and the tool that
//! mints its join tokens.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use classroom_protocol::{Role, Source};
use classroom_sfu::{AccessKey, Claims};

/// The classroom media server: forwards each participant's camera, microphone and screen to
/// the rest of the class. Joins need a token signed with the server's secret, given as the
/// file --secret-file or the environment variable CLASSROOM_SECRET (at least 32 bytes).
///
/// On the --listen port: the app's websocket at /ws, WHIP ingest at /whip/ROOM (OBS:
/// Settings > Stream > WHIP, bearer token from `classroom-server token --role teacher`), WHEP
/// playback at /whep/ROOM (any WHEP player, bearer token of any role that may subscribe),
/// and /healthz.
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Print a join token.
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct SecretArgs {
    /// File holding the shared secret (else $CLASSROOM_SECRET).
    #[arg(long)]
    secret_file: Option<PathBuf>,
}

impl SecretArgs {
    fn key(&self) -> anyhow::Result<AccessKey> {
        let secret = match &self.secret_file {
            Some(path) => {
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
            }
            None => match std::env::var("CLASSROOM_SECRET") {
                Ok(s) => s.into_bytes(),
                Err(_) => bail!(
                    "no secret: pass --secret-file FILE or set CLASSROOM_SECRET (e.g. `openssl rand -hex 32`)"
                ),
            },
        };
        let trimmed = secret.trim_ascii();
        AccessKey::from_secret(trimmed).context("the secret")
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML configuration file (see installer/server/classroom-server.toml); flags win over it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Signaling address: websocket, WHIP and WHEP over HTTP [default: 0.0.0.0:8443].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// UDP address for all media [default: 0.0.0.0:50000]. A wildcard address without
    /// --advertise-ip receives on every usable interface address (one socket each, all
    /// advertised, re-read while running).
    #[arg(long)]
    udp: Option<SocketAddr>,
    /// IP address to advertise to clients when --udp is a wildcard address (a server behind
    /// NAT: its public address).
    #[arg(long)]
    advertise_ip: Option<IpAddr>,
    /// Log one JSON object per line (for log collectors) instead of text.
    #[arg(long)]
    log_json: bool,
    /// Serve Prometheus/OpenMetrics /metrics and /healthz on this address.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Ask camera publishers for simulcast layers (320x180, 640x360, 1280x720), so each
    /// student gets the size their window shows; costs publishers the extra encodes.
    #[arg(long)]
    simulcast: bool,
    /// Keep each class's attendance report (CSV and JSON) in this folder when it ends.
    #[arg(long)]
    reports_dir: Option<PathBuf>,
    /// Keep the classes' lessons and their files in this folder and serve them to the
    /// classes (`/lessons`, `/files`, same tokens); without it there is no lesson service.
    #[arg(long)]
    lessons_dir: Option<PathBuf>,
    /// Serve the signaling port over TLS (wss://, https://) with this PEM certificate chain
    /// (leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Set one limit, e.g. --limit max_participants_per_room=60 (repeatable; names and
    /// defaults in the README; durations in seconds, names ending in _secs).
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    limits: Vec<String>,
    /// Threads that share forwarding's per-student work (encrypting and sending each
    /// student's copy of a packet) [default: the computer's cores, at most 16].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    #[command(flatten)]
    secret: SecretArgs,
}

/// The configuration file: the same settings as the flags.
#[derive(Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    udp: Option<SocketAddr>,
    advertise_ip: Option<IpAddr>,
    secret_file: Option<PathBuf>,
    log_json: Option<bool>,
    metrics_listen: Option<SocketAddr>,
    simulcast: Option<bool>,
    reports_dir: Option<PathBuf>,
    lessons_dir: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    threads: Option<u16>,
    /// `[limits]`: NAME = whole number, as `--limit`.
    #[serde(default)]
    limits: std::collections::BTreeMap<String, toml::Value>,
}

impl FileConfig {
    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(toml::from_str(text)?)
    }

    fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }
}

impl ServeArgs {
    /// Flags over file over defaults.
    fn merged(mut self) -> anyhow::Result<Self> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        self.listen = self
            .listen
            .or(file.listen)
            .or(Some(SocketAddr::from(([0, 0, 0, 0], 8443))));
        self.udp = self
            .udp
            .or(file.udp)
            .or(Some(SocketAddr::from(([0, 0, 0, 0], 50000))));
        self.advertise_ip = self.advertise_ip.or(file.advertise_ip);
        self.secret.secret_file = self.secret.secret_file.or(file.secret_file);
        self.log_json |= file.log_json.unwrap_or(false);
        self.metrics_listen = self.metrics_listen.or(file.metrics_listen);
        self.simulcast |= file.simulcast.unwrap_or(false);
        self.reports_dir = self.reports_dir.or(file.reports_dir);
        self.lessons_dir = self.lessons_dir.or(file.lessons_dir);
        self.threads = match self.threads.or(file.threads) {
            Some(0) => bail!("threads must be at least 1"),
            Some(n) => Some(n),
            None => Some(
                std::thread::available_parallelism()
                    .map_or(1, |n| n.get().min(16))
                    .try_into()
                    .unwrap_or(1),
            ),
        };
        if self.tls_cert.is_none() && self.tls_key.is_none() {
            self.tls_cert = file.tls_cert;
            self.tls_key = file.tls_key;
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            bail!("TLS needs both a certificate (tls_cert) and its key (tls_key)");
        }
        // File first, so a flag given for the same limit wins.
        let mut limits: Vec<String> = file
            .limits
            .iter()
            .map(|(k, v)| match v {
                toml::Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        limits.append(&mut self.limits);
        self.limits = limits;
        Ok(self)
    }

    /// The limits: defaults, then each NAME=VALUE in order.
    fn limits(&self) -> anyhow::Result<classroom_sfu::Limits> {
        let mut limits = classroom_sfu::Limits::default();
        for item in &self.limits {
            let (name, value) = item
                .split_once('=')
                .with_context(|| format!("--limit {item:?}: expected NAME=VALUE"))?;
            limits.set(name.trim(), value)?;
        }
        Ok(limits)
    }

    /// TLS from the certificate and key files, if given.
    fn tls(&self) -> anyhow::Result<classroom_sfu::Tls> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(classroom_sfu::Tls::Off);
        };
        let read =
            |p: &PathBuf| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
        Ok(classroom_sfu::Tls::Pem {
            cert_chain: read(cert)?,
            key: read(key)?,
        })
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Teacher,
    Assistant,
    Student,
    Observer,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SourceArg {
    Camera,
    Microphone,
    Screen,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The room the token opens.
    #[arg(long)]
    room: String,
    /// The role it grants.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// Identity of the holder (defaults to the role name).
    #[arg(long)]
    identity: Option<String>,
    /// Validity in seconds.
    #[arg(long, default_value_t = 4 * 3600)]
    ttl_secs: u64,
    /// Sources the holder may publish, replacing the role's default (comma separated; empty: none).
    #[arg(long, value_enum, value_delimiter = ',', num_args = 0..)]
    publish: Option<Vec<SourceArg>>,
    /// The holder may not receive the room's tracks.
    #[arg(long)]
    no_subscribe: bool,
    /// An invite rather than a personal token: anyone holding it joins as an identity of
    /// their own (and is given a personal token for reconnecting); share it as a link.
    #[arg(long)]
    invite: bool,
    #[command(flatten)]
    secret: SecretArgs,
}

#[global_allocator]
static ALLOCATOR: classroom_sfu::ServerAllocator = classroom_sfu::ServerAllocator;

// One thread: the core is single-threaded anyway, and keeping the sockets, the signaling
// tasks and the core on it saved a tenth of the CPU per forwarded packet against the
// multi-threaded runtime (classroom-load, 50 subscribers: 12.0 vs 13.4 us) by avoiding
// cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => token(args),
        Some(Command::Serve(args)) => serve(args).await,
        None => serve(cli.serve).await,
    }
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    let role = match args.role {
        RoleArg::Teacher => Role::Teacher,
        RoleArg::Assistant => Role::Assistant,
        RoleArg::Student => Role::Student,
        RoleArg::Observer => Role::Observer,
    };
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock")?
        .as_secs();
    let identity = args
        .identity
        .unwrap_or_else(|| format!("{:?}", args.role).to_lowercase());
    let ttl = Duration::from_secs(args.ttl_secs);
    let mut claims = if args.invite {
        Claims::invite(&args.room, role, ttl, unix)
    } else {
        Claims::new(&args.room, &identity, role, ttl, unix)
    };
    if let Some(sources) = args.publish {
        claims.grants.publish = sources
            .into_iter()
            .map(|s| match s {
                SourceArg::Camera => Source::Camera,
                SourceArg::Microphone => Source::Microphone,
                SourceArg::Screen => Source::Screen,
            })
            .collect();
    }
    claims.grants.subscribe = !args.no_subscribe;
    println!("{}", args.secret.key()?.mint(&claims)?);
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let args = args.merged()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,str0m=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if args.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    raise_open_file_limit();
    let access = args.secret.key()?;
    let limits = args.limits()?;
    let tls = args.tls()?;
    let (Some(listen), Some(udp)) = (args.listen, args.udp) else {
        bail!("no listen or udp address");
    };
    let handle = classroom_sfu::start(classroom_sfu::ServerConfig {
        signaling: listen,
        udp,
        advertise_ip: args.advertise_ip,
        access: Some(access),
        metrics: args.metrics_listen,
        simulcast: if args.simulcast {
            classroom_sfu::standard_simulcast_layers()
        } else {
            Vec::new()
        },
        class: classroom::Config::default(),
        reports_dir: args.reports_dir.clone(),
        lessons_dir: args.lessons_dir.clone(),
        // An administrator's port is a promise to the firewall: taken is an error.
        port_fallback: false,
        limits,
        tls,
        threads: args.threads.map_or(1, usize::from),
    })
    .await
    .context("starting the classroom server")?;
    println!(
        "classroom-server: signaling {} media {}",
        handle.url(),
        handle.udp_addr()
    );
    if let Some(print) = handle.fingerprint() {
        println!(
            "classroom-server: TLS certificate SHA-256 {}",
            classroom_protocol::fingerprint::to_hex(&print)
        );
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    println!("classroom-server: shutting down, telling clients");
    handle.shutdown().await;
    Ok(())
}

/// Every signaling client holds a socket: the usual soft limit of 1,024 open files would
/// refuse a big class's connections (EMFILE at accept). Raises the soft limit to the hard
/// one and logs what the server got.
fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::info!(from = soft, to = hard, "raised the open-file limit"),
            Err(e) => tracing::warn!(soft, hard, "cannot raise the open-file limit: {e}"),
        },
        Ok((soft, _)) => tracing::info!(limit = soft, "open-file limit"),
        Err(e) => tracing::warn!("cannot read the open-file limit: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_template_parses() {
        let cfg = FileConfig::parse(include_str!(
            "../../../installer/server/classroom-server.toml"
        ))
        .expect("template");
        assert_eq!(cfg.listen, Some("0.0.0.0:8443".parse().expect("addr")));
        assert_eq!(
            cfg.secret_file,
            Some(PathBuf::from("/etc/classroom/secret"))
        );
    }

    #[test]
    fn config_mistakes_are_clear_errors() {
        let err = FileConfig::parse("listne = \"0.0.0.0:1\"")
            .expect_err("typo")
            .to_string();
        assert!(err.contains("listne"), "{err}");
        let err = FileConfig::parse("udp = \"not an address\"")
            .expect_err("bad value")
            .to_string();
        assert!(err.contains("udp"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let dir = std::env::temp_dir().join(format!("classroom-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("server.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nudp = \"127.0.0.1:9001\"\n",
        )
        .expect("write");
        let cli = Cli::parse_from([
            "classroom-server",
            "--config",
            path.to_str().expect("utf8"),
            "--udp",
            "127.0.0.1:7000",
        ]);
        let merged = cli.serve.merged().expect("merge");
        assert_eq!(merged.listen, Some("127.0.0.1:9000".parse().expect("addr")));
        assert_eq!(merged.udp, Some("127.0.0.1:7000".parse().expect("addr")));
        assert!(!merged.simulcast, "off unless asked for");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn limits_and_tls_from_the_file_and_flags() {
        let file = FileConfig::parse(
            "tls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n[limits]\nmax_participants_per_room = 30\njoin_timeout_secs = 5\n",
        )
        .expect("valid");
        assert_eq!(file.tls_cert, Some(PathBuf::from("/c.pem")));
        let dir = std::env::temp_dir().join(format!("classroom-lim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("server.toml");
        std::fs::write(
            &path,
            "[limits]\nmax_participants_per_room = 30\nmessage_burst = 9\n",
        )
        .expect("write");
        let cli = Cli::parse_from([
            "classroom-server",
            "--config",
            path.to_str().expect("utf8"),
            "--limit",
            "max_participants_per_room=12",
        ]);
        let limits = cli.serve.merged().expect("merge").limits().expect("limits");
        assert_eq!(limits.max_participants_per_room, 12, "the flag wins");
        assert_eq!(limits.message_burst, 9, "the file's other limit stays");
        let cli = Cli::parse_from(["classroom-server", "--limit", "max_fun=1"]);
        let err = cli
            .serve
            .merged()
            .expect("merge")
            .limits()
            .expect_err("unknown");
        assert!(err.to_string().contains("max_fun"), "{err}");
        let cli = Cli::try_parse_from(["classroom-server", "--tls-cert", "/c.pem"]);
        assert!(cli.is_err(), "a certificate without its key");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn simulcast_from_the_file_or_the_flag() {
        assert_eq!(
            FileConfig::parse("simulcast = true")
                .expect("valid")
                .simulcast,
            Some(true)
        );
        let cli = Cli::parse_from(["classroom-server", "--simulcast"]);
        assert!(cli.serve.merged().expect("merge").simulcast);
    }

    #[test]
    fn threads_from_the_flag_the_file_or_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(16));
        let cli = Cli::parse_from(["classroom-server"]);
        let merged = cli.serve.merged().expect("merge");
        assert_eq!(
            merged.threads.map(usize::from),
            Some(cores),
            "the cores by default"
        );
        let cli = Cli::parse_from(["classroom-server", "--threads", "3"]);
        assert_eq!(cli.serve.merged().expect("merge").threads, Some(3));
        assert_eq!(
            FileConfig::parse("threads = 4").expect("valid").threads,
            Some(4)
        );
        assert!(FileConfig::parse("threads = -1").is_err());
        let err = Cli::try_parse_from(["classroom-server", "--threads", "0"])
            .expect_err("zero threads")
            .to_string();
        assert!(err.contains("threads"), "{err}");
        let dir = std::env::temp_dir().join(format!("classroom-thr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("server.toml");
        std::fs::write(&path, "threads = 0\n").expect("write");
        let cli = Cli::parse_from(["classroom-server", "--config", path.to_str().expect("utf8")]);
        let err = cli
            .serve
            .merged()
            .expect_err("zero in the file")
            .to_string();
        assert!(err.contains("threads"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
