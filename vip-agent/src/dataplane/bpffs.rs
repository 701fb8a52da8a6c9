//! The bpf filesystem the pins live on. Where none is mounted (a host
//! without systemd, or `ip netns exec`, which gives the command a private
//! /sys), the agent mounts one itself, as Cilium does.

use std::path::{Path, PathBuf};

use nix::{
    mount::{mount, MsFlags},
    sys::statfs::{statfs, FsType},
};

use super::DataplaneError;

const BPF_FS_MAGIC: FsType = FsType(0xCAFE_4A11);

/// The conventional mount point; a pin directory under it gets its bpffs there.
const DEFAULT_MOUNT_POINT: &str = "/sys/fs/bpf";

/// What [`ensure_bpffs`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bpffs {
    /// A bpf filesystem was already there.
    Present,
    /// The agent mounted one at `mount_point`; `private` when this process
    /// runs in a mount namespace of its own (as under `ip netns exec`), where
    /// nothing outside sees the mount.
    Mounted { mount_point: PathBuf, private: bool },
}

/// The nearest existing ancestor of `path` (itself included).
fn nearest_existing(path: &Path) -> &Path {
    path.ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
}

fn on_bpffs(path: &Path) -> bool {
    statfs(nearest_existing(path)).is_ok_and(|fs| fs.filesystem_type() == BPF_FS_MAGIC)
}

/// Where a bpf filesystem for `pin_dir` is mounted when there is none: the
/// conventional /sys/fs/bpf for a directory under it, else `pin_dir` itself
/// (mounting on an ancestor could hide what else lives there).
pub fn mount_point_for(pin_dir: &Path) -> PathBuf {
    if pin_dir.starts_with(DEFAULT_MOUNT_POINT) {
        PathBuf::from(DEFAULT_MOUNT_POINT)
    } else {
        pin_dir.to_path_buf()
    }
}

/// True when this process runs in a mount namespace other than the one it
/// was started from (its parent's; PID 1's when the parent's cannot be read),
/// as a command of `ip netns exec` or a sandboxed service does: a mount made
/// here is seen nowhere else. `None` when neither can be read.
fn in_private_mount_namespace() -> Option<bool> {
    let own = std::fs::read_link("/proc/self/ns/mnt").ok()?;
    let parent = format!("/proc/{}/ns/mnt", std::os::unix::process::parent_id());
    let outside = std::fs::read_link(parent)
        .or_else(|_| std::fs::read_link("/proc/1/ns/mnt"))
        .ok()?;
    Some(own != outside)
}

/// Makes sure `pin_dir` is (or will be, once created) on a bpf filesystem,
/// mounting one if needed. Creates no directory other than the mount point.
pub fn ensure_bpffs(pin_dir: &Path) -> Result<Bpffs, DataplaneError> {
    if on_bpffs(pin_dir) {
        return Ok(Bpffs::Present);
    }
    let mount_point = mount_point_for(pin_dir);
    if !mount_point.is_dir() {
        // Only the mount point itself is created; /sys/fs/bpf always exists
        // where the kernel has bpffs.
        std::fs::create_dir_all(&mount_point).map_err(|source| DataplaneError::PinDir {
            path: mount_point.clone(),
            source,
        })?;
    }
    mount(
        Some("bpf"),
        &mount_point,
        Some("bpf"),
        MsFlags::empty(),
        Some("mode=0700"),
    )
    .map_err(|errno| DataplaneError::MountBpffs {
        mount_point: mount_point.clone(),
        errno,
    })?;
    if !on_bpffs(pin_dir) {
        return Err(DataplaneError::NotBpffs(pin_dir.to_path_buf()));
    }
    Ok(Bpffs::Mounted {
        mount_point,
        private: in_private_mount_namespace().unwrap_or(false),
    })
}

/// Pins only work on bpffs; say so before the kernel answers with a bare
/// EPERM/EINVAL.
pub fn check_on_bpffs(pin_dir: &Path) -> Result<(), DataplaneError> {
    if on_bpffs(pin_dir) {
        Ok(())
    } else {
        Err(DataplaneError::NotBpffs(pin_dir.to_path_buf()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_under_sys_fs_bpf_gets_its_filesystem_there() {
        assert_eq!(
            mount_point_for(Path::new("/sys/fs/bpf/vip-agent")),
            Path::new("/sys/fs/bpf")
        );
        assert_eq!(
            mount_point_for(Path::new("/sys/fs/bpf")),
            Path::new("/sys/fs/bpf")
        );
    }

    #[test]
    fn a_directory_elsewhere_is_its_own_mount_point() {
        assert_eq!(
            mount_point_for(Path::new("/run/vip-agent/bpf")),
            Path::new("/run/vip-agent/bpf")
        );
        // A lookalike prefix is not under /sys/fs/bpf.
        assert_eq!(
            mount_point_for(Path::new("/sys/fs/bpfx/a")),
            Path::new("/sys/fs/bpfx/a")
        );
    }

    #[test]
    fn the_nearest_existing_ancestor_is_what_is_checked() {
        assert_eq!(
            nearest_existing(Path::new("/proc/self/no/such/dir")),
            Path::new("/proc/self")
        );
        assert!(!on_bpffs(Path::new("/proc/self/no/such/dir")));
    }
}
