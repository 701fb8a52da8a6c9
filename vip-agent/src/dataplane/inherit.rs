//! What a run that ended without a clean stop left under its pin
//! directory, read (and its heartbeat bridged) before a new run replaces it.

use super::*;

/// What a run of the agent that died without a clean stop left in its
/// pin directory: its last heartbeat, its ownership entries (it was Master
/// of those) and the interfaces its pinned attachments still run on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inherited {
    /// CLOCK_MONOTONIC nanoseconds of its last heartbeat; 0: it never beat.
    pub heartbeat_ns: u64,
    pub owned: Vec<OwnedVip>,
    pub interfaces: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedVip {
    pub ifindex: u32,
    pub vip: IpAddr,
    pub vrid: u8,
}

/// Reads what a crashed run left under `pin_dir`, before anything replaces
/// it; `None` when there is nothing (no earlier run, or a clean stop).
pub fn inherit(pin_dir: &Path) -> Result<Option<Inherited>, DataplaneError> {
    let open = |name: &'static str| -> Result<Option<Map>, DataplaneError> {
        let path = pin_dir.join(name);
        if !path.exists() {
            return Ok(None);
        }
        let data = MapData::from_pin(&path).map_err(map_err(name))?;
        Ok(Some(match name {
            MAP_LIVENESS => Map::Array(data),
            _ => Map::HashMap(data),
        }))
    };
    let interfaces: Vec<String> = fs::read_dir(pin_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix(LINK_PIN_PREFIX).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let (Some(liveness), Some(ownership)) = (open(MAP_LIVENESS)?, open(MAP_OWNERSHIP)?) else {
        return Ok(None);
    };
    let liveness: Array<MapData, Liveness> =
        Array::try_from(liveness).map_err(map_err(MAP_LIVENESS))?;
    let ownership: HashMap<MapData, OwnershipKey, Ownership> =
        HashMap::try_from(ownership).map_err(map_err(MAP_OWNERSHIP))?;
    let heartbeat_ns = liveness
        .get(&0, 0)
        .map_err(map_err(MAP_LIVENESS))?
        .heartbeat_ns;
    let mut owned = Vec::new();
    for entry in ownership.iter() {
        let (key, value) = entry.map_err(map_err(MAP_OWNERSHIP))?;
        if value.flags & OWNERSHIP_FLAG_MASTER != 0 {
            owned.push(OwnedVip {
                ifindex: key.ifindex,
                vip: addr_from_key(Family::from_key(key.family), key.vip),
                vrid: value.vrid,
            });
        }
    }
    Ok(Some(Inherited {
        heartbeat_ns,
        owned,
        interfaces,
    }))
}

/// A new run is starting where a crashed one left a pinned fast path that
/// is not fenced yet: renew that run's heartbeat once, so its program goes
/// on answering for its VIPs while this run loads its own (loading and
/// verifying takes about a second) and takes the attachments over. A fast
/// path already fenced stays fenced. Returns whether it renewed.
pub fn bridge_heartbeat(pin_dir: &Path) -> Result<bool, DataplaneError> {
    let path = pin_dir.join(MAP_LIVENESS);
    if !path.exists() {
        return Ok(false);
    }
    let data = MapData::from_pin(&path).map_err(map_err(MAP_LIVENESS))?;
    let mut liveness: Array<MapData, Liveness> =
        Array::try_from(Map::Array(data)).map_err(map_err(MAP_LIVENESS))?;
    let old = liveness.get(&0, 0).map_err(map_err(MAP_LIVENESS))?;
    let now = monotonic_ns();
    if old.heartbeat_ns == 0 || now.saturating_sub(old.heartbeat_ns) > old.bound_ns {
        return Ok(false);
    }
    let renewed = Liveness {
        heartbeat_ns: now,
        ..old
    };
    liveness.set(0, renewed, 0).map_err(map_err(MAP_LIVENESS))?;
    Ok(true)
}
