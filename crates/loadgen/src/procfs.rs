//! CPU time and resident memory of a process, from Linux's /proc accounting.

use std::time::Instant;

use crate::LoadError;

/// Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

/// One reading of a process's accounting.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was read.
    pub at: Instant,
    /// User plus system CPU time, microseconds.
    pub cpu_us: u64,
    /// Resident set size, KiB.
    pub rss_kb: u64,
}

/// Reads `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (VmRSS); `pid` 0 means
/// this process.
pub fn sample(pid: u32, ticks: u64) -> Result<Sample, LoadError> {
    let dir = if pid == 0 {
        "/proc/self".to_string()
    } else {
        format!("/proc/{pid}")
    };
    let read = |file: &str| {
        std::fs::read_to_string(format!("{dir}/{file}")).map_err(|source| LoadError::Io {
            path: format!("{dir}/{file}"),
            source,
        })
    };
    let at = Instant::now();
    let stat = read("stat")?;
    let bad = || LoadError::Proc(format!("cannot parse {dir}/stat"));
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = stat.rsplit_once(')').ok_or_else(bad)?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    let utime: u64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .ok_or_else(bad)?;
    let stime: u64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .ok_or_else(bad)?;
    let status = read("status")?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| LoadError::Proc(format!("no VmRSS in {dir}/status")))?;
    Ok(Sample {
        at,
        cpu_us: (utime + stime) * 1_000_000 / ticks,
        rss_kb,
    })
}

/// The kernel's count of UDP datagrams dropped because a socket's receive buffer was full
/// (`Udp: RcvbufErrors` in /proc/net/snmp), for the whole machine.
pub fn udp_rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let i = names.iter().position(|n| *n == "RcvbufErrors")?;
    values.get(i)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_accounting() {
        let ticks = clock_ticks();
        let a = sample(0, ticks).expect("self");
        // Burn some CPU so the counter must move.
        let mut x = 0u64;
        let until = Instant::now() + std::time::Duration::from_millis(100);
        while Instant::now() < until {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        let b = sample(0, ticks).expect("self");
        assert!(b.cpu_us > a.cpu_us, "{} -> {}", a.cpu_us, b.cpu_us);
        assert!(b.rss_kb > 100);
        assert!(sample(u32::MAX, ticks).is_err());
        assert!(
            udp_rcvbuf_errors().is_some(),
            "/proc/net/snmp has a Udp table"
        );
    }
}
