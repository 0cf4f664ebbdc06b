//! The offer webrtcbin 1.22 makes, with the camera's simulcast layers added.

use super::{Layer, MID_URI, REPAIRED_RID_URI, RID_URI, valid_rid};

/// Header extension ids used on the camera's m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExtIds {
    /// MID.
    pub mid: u8,
    /// RID.
    pub rid: u8,
    /// Repaired RID.
    pub repaired_rid: u8,
}

/// An offer with simulcast added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Munged {
    /// The SDP text.
    pub sdp: String,
    /// The camera m-line's mid.
    pub mid: String,
    /// The extension ids it declares.
    pub ids: ExtIds,
}

/// `(id, uri)` of an `a=extmap:<id>[/<direction>] <uri> ...` line.
fn parse_extmap(line: &str) -> Option<(u8, &str)> {
    let rest = line.strip_prefix("a=extmap:")?;
    let (id, rest) = rest.split_once(' ')?;
    let id = id.split('/').next()?.parse().ok()?;
    Some((id, rest.split_whitespace().next()?))
}

/// Adds simulcast to m-line `mline` of `sdp` (an offer from webrtcbin): one `a=rid:<rid> send`
/// per layer, `a=simulcast:send <rids>`, the MID/RID/repaired-RID extmaps, and the layers'
/// SSRCs (`a=ssrc` with the m-line's cname and `a=ssrc-group:SIM`). Extension ids already in
/// the offer for these URIs are kept; otherwise `previous` (ids of an earlier offer, which
/// str0m has locked) when still free, else the lowest free ids. Idempotent: a munged offer
/// munged again is unchanged.
pub(crate) fn munge_offer(
    sdp: &str,
    mline: usize,
    layers: &[Layer],
    previous: Option<ExtIds>,
) -> Result<Munged, String> {
    if layers.len() < 2 {
        return Err("simulcast needs at least two layers".into());
    }
    if let Some(bad) = layers.iter().find(|l| !valid_rid(&l.rid)) {
        return Err(format!("rid {:?} cannot be sent", bad.rid));
    }
    let lines: Vec<&str> = sdp.lines().filter(|l| !l.is_empty()).collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("m="))
        .map(|(i, _)| i)
        .collect();
    let Some(&start) = starts.get(mline) else {
        return Err(format!("the offer has no m-line {mline}"));
    };
    let end = starts.get(mline + 1).copied().unwrap_or(lines.len());
    let section = &lines[start..end];
    if !section[0].starts_with("m=video") {
        return Err(format!("m-line {mline} is not video"));
    }
    let mid = section
        .iter()
        .find_map(|l| l.strip_prefix("a=mid:"))
        .map(str::trim)
        .filter(|m| (1..=16).contains(&m.len()))
        .ok_or_else(|| format!("m-line {mline} has no usable a=mid"))?
        .to_owned();

    // Ids: str0m keeps one extension map for the whole (bundled) session, so an id must not
    // mean two things anywhere in the offer.
    let extmaps: Vec<(u8, &str)> = lines.iter().filter_map(|l| parse_extmap(l)).collect();
    let mut taken: Vec<u8> = extmaps.iter().map(|(id, _)| *id).collect();
    let mut choose = |uri: &str, before: Option<u8>| -> Result<u8, String> {
        if let Some((id, _)) = extmaps.iter().find(|(_, u)| *u == uri) {
            // The packets carry one-byte extensions: ids 1..=14 only.
            return match *id {
                1..=14 => Ok(*id),
                id => Err(format!(
                    "{uri} is offered with id {id}, too large for one byte"
                )),
            };
        }
        let id = before
            .filter(|id| !taken.contains(id))
            .or_else(|| (1..=14).find(|id| !taken.contains(id)))
            .ok_or_else(|| "no free header extension id".to_owned())?;
        taken.push(id);
        Ok(id)
    };
    let ids = ExtIds {
        mid: choose(MID_URI, previous.map(|p| p.mid))?,
        rid: choose(RID_URI, previous.map(|p| p.rid))?,
        repaired_rid: choose(REPAIRED_RID_URI, previous.map(|p| p.repaired_rid))?,
    };

    let cname = section
        .iter()
        .find_map(|l| {
            let rest = l.strip_prefix("a=ssrc:")?;
            rest.split_once(" cname:").map(|(_, c)| c.trim())
        })
        .unwrap_or("classroom")
        .to_owned();
    // webrtcbin describes the SSRC of its caps (the top layer) with msid and cname lines;
    // the other layers' cname lines are ours, replaced on every munge.
    let webrtcbin_ssrcs: Vec<u32> = layers
        .iter()
        .map(|l| l.ssrc)
        .filter(|s| {
            section
                .iter()
                .any(|l| l.starts_with(&format!("a=ssrc:{s} msid:")))
        })
        .collect();
    let our_ssrc_line = |line: &str| {
        layers.iter().any(|l| {
            !webrtcbin_ssrcs.contains(&l.ssrc) && line.starts_with(&format!("a=ssrc:{} ", l.ssrc))
        })
    };
    let ours = |line: &str| {
        line.starts_with("a=rid:")
            || line.starts_with("a=simulcast:")
            || line.starts_with("a=ssrc-group:SIM")
            || our_ssrc_line(line)
            || parse_extmap(line)
                .is_some_and(|(_, uri)| [MID_URI, RID_URI, REPAIRED_RID_URI].contains(&uri))
    };
    let mut added: Vec<String> = vec![
        format!("a=extmap:{} {MID_URI}", ids.mid),
        format!("a=extmap:{} {RID_URI}", ids.rid),
        format!("a=extmap:{} {REPAIRED_RID_URI}", ids.repaired_rid),
    ];
    added.extend(layers.iter().map(|l| format!("a=rid:{} send", l.rid)));
    let rids: Vec<&str> = layers.iter().map(|l| l.rid.as_str()).collect();
    added.push(format!("a=simulcast:send {}", rids.join(";")));
    let ssrcs: Vec<String> = layers.iter().map(|l| l.ssrc.to_string()).collect();
    added.push(format!("a=ssrc-group:SIM {}", ssrcs.join(" ")));
    added.extend(
        layers
            .iter()
            .filter(|l| !webrtcbin_ssrcs.contains(&l.ssrc))
            .map(|l| format!("a=ssrc:{} cname:{cname}", l.ssrc)),
    );

    let mut out: Vec<String> = Vec::with_capacity(lines.len() + added.len());
    out.extend(lines[..start].iter().map(|l| (*l).to_owned()));
    out.extend(section.iter().filter(|l| !ours(l)).map(|l| (*l).to_owned()));
    out.extend(added);
    out.extend(lines[end..].iter().map(|l| (*l).to_owned()));
    let mut text = out.join("\r\n");
    text.push_str("\r\n");
    Ok(Munged {
        sdp: text,
        mid,
        ids,
    })
}
