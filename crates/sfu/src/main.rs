//! `classroom-server`: the classroom SFU as a standalone server for a school.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Parser;

/// The classroom media server: forwards each participant's camera, microphone and screen to
/// the rest of the class.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Websocket signaling address clients connect to.
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// UDP address for all media.
    #[arg(long, default_value = "0.0.0.0:50000")]
    udp: SocketAddr,
    /// IP address to advertise to clients when --udp is a wildcard address.
    #[arg(long)]
    advertise_ip: Option<IpAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,str0m=warn".into()),
        )
        .init();
    let args = Args::parse();
    let handle = classroom_sfu::start(classroom_sfu::ServerConfig {
        signaling: args.listen,
        udp: args.udp,
        advertise_ip: args.advertise_ip,
    })
    .await
    .context("starting the classroom server")?;
    println!(
        "classroom-server: signaling {} media {}",
        handle.url(),
        handle.udp_addr()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    println!("classroom-server: shutting down, telling clients");
    handle.shutdown().await;
    Ok(())
}
