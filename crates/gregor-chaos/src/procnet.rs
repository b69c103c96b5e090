//! Counting a process's TCP connections from /proc (no tool needed, works for any client).

use std::collections::HashSet;

/// Established IPv4/IPv6 TCP connections of `pid` whose remote port is in `ports`.
pub fn established_to(pid: u32, ports: &HashSet<u16>) -> usize {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return 0;
    }
    let mut n = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "01" {
                continue; // not ESTABLISHED
            }
            let remote_port = f[2].rsplit(':').next().and_then(|h| u16::from_str_radix(h, 16).ok());
            let inode: Option<u64> = f[9].parse().ok();
            if let (Some(port), Some(inode)) = (remote_port, inode) {
                if ports.contains(&port) && inodes.contains(&inode) {
                    n += 1;
                }
            }
        }
    }
    n
}

fn socket_inodes(pid: u32) -> HashSet<u64> {
    let mut out = HashSet::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return out };
    for e in dir.flatten() {
        if let Ok(target) = std::fs::read_link(e.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                if let Ok(i) = inode.parse() {
                    out.insert(i);
                }
            }
        }
    }
    out
}
