//! The user and group a script runs as, resolved as keepalived 2.2.7
//! resolves them (`set_uid_gid`): `USER` alone runs with that user's
//! primary group, `USER GROUP` with the group named; a name that does not
//! resolve means the script is not run. Without a user of its own a script
//! runs as `script_user`, else as the agent's own user.

use nix::unistd::{Group, User};

use crate::config::ScriptUser;

/// Numeric credentials for a child process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// `USER [GROUP]` as numbers.
pub fn resolve(user: &str, group: Option<&str>) -> Result<RunAs, String> {
    let found = match User::from_name(user) {
        Ok(Some(found)) => found,
        Ok(None) => return Err(format!("script user '{user}' does not exist")),
        Err(err) => return Err(format!("looking up script user '{user}': {err}")),
    };
    let gid = match group {
        None => found.gid,
        Some(group) => match Group::from_name(group) {
            Ok(Some(found)) => found.gid,
            Ok(None) => return Err(format!("script group '{group}' does not exist")),
            Err(err) => return Err(format!("looking up script group '{group}': {err}")),
        },
    };
    Ok(RunAs {
        uid: found.uid.as_raw(),
        gid: gid.as_raw(),
    })
}

/// Who runs a script whose own `user`/`group` are given (or not), with
/// `default` the global `script_user`: `None` is the agent's own user.
pub fn for_script(
    user: Option<&str>,
    group: Option<&str>,
    default: Option<&ScriptUser>,
) -> Result<Option<RunAs>, String> {
    match (user, default) {
        (Some(user), _) => resolve(user, group).map(Some),
        (None, Some(default)) => resolve(&default.user, default.group.as_deref()).map(Some),
        (None, None) => Ok(None),
    }
}

/// The credentials the child of `cmd` takes before it runs anything (std
/// also drops the supplementary groups when root changes user).
pub fn apply(cmd: &mut tokio::process::Command, run_as: Option<RunAs>) {
    if let Some(RunAs { uid, gid }) = run_as {
        cmd.uid(uid).gid(gid);
    }
}

/// The credentials a script runs with when `run_as` is `None`.
pub fn own() -> RunAs {
    RunAs {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_of_its_own_replaces_the_users_primary_group() {
        // Debian's base passwd: daemon is 1:1, group adm is 4.
        assert_eq!(resolve("daemon", None), Ok(RunAs { uid: 1, gid: 1 }));
        assert_eq!(resolve("daemon", Some("adm")), Ok(RunAs { uid: 1, gid: 4 }));
        assert_eq!(
            resolve("daemon", Some("no-such-group")),
            Err("script group 'no-such-group' does not exist".to_string())
        );
        assert_eq!(
            resolve("no-such-user", None),
            Err("script user 'no-such-user' does not exist".to_string())
        );
    }

    #[test]
    fn the_scripts_own_user_wins_over_script_user() {
        let default = ScriptUser {
            user: "daemon".into(),
            group: Some("adm".into()),
        };
        assert_eq!(
            for_script(None, None, Some(&default)),
            Ok(Some(RunAs { uid: 1, gid: 4 }))
        );
        assert_eq!(
            for_script(Some("root"), None, Some(&default)),
            Ok(Some(RunAs { uid: 0, gid: 0 }))
        );
        assert_eq!(for_script(None, None, None), Ok(None));
    }
}
