//! Scraping an agent's `--metrics-listen` from inside its node's namespace,
//! reading the Prometheus text format, and linting it with `promtool`.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context, Result};

use crate::Lab;

/// Bound of one request: connecting, and the whole answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// No answer of the agent is near this; a larger one is an error.
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

/// One HTTP answer.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// Sends `request` (a whole HTTP/1.1 request) to `address` from inside
/// node `node`'s namespace and reads the answer until the server closes.
pub fn http(lab: &Lab, node: usize, address: SocketAddr, request: String) -> Result<HttpResponse> {
    let raw = lab.node(node).ns.in_thread(move || -> Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)
            .with_context(|| format!("connecting to {address}"))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut raw)
            .with_context(|| format!("reading the answer of {address}"))?;
        Ok(raw)
    })?;
    if raw.len() as u64 > MAX_RESPONSE_BYTES {
        bail!("answer of {address} larger than {MAX_RESPONSE_BYTES} bytes");
    }
    parse_response(&raw)
}

/// `METHOD PATH` with `Connection: close`, as a scraper sends it.
pub fn request(method: &str, address: SocketAddr, path: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n")
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse> {
    let text = std::str::from_utf8(raw).context("the answer is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("no end of headers in {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if let Some(length) = headers.get("content-length") {
        let length: usize = length.parse().context("content-length")?;
        anyhow::ensure!(
            body.len() == length,
            "body of {} bytes, content-length {length}",
            body.len()
        );
    }
    Ok(HttpResponse {
        status,
        headers,
        body: body.to_string(),
    })
}

/// `GET /metrics` of the agent listening on `address` in node `node`; fails
/// unless it answers 200 with the Prometheus text format.
pub fn scrape(lab: &Lab, node: usize, address: SocketAddr) -> Result<Scrape> {
    let response = http(lab, node, address, request("GET", address, "/metrics"))?;
    anyhow::ensure!(
        response.status == 200,
        "scrape answered {}: {}",
        response.status,
        response.body
    );
    let content_type = response
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or_default();
    anyhow::ensure!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "content type {content_type:?}"
    );
    Scrape::parse(&response.body)
}

/// `promtool check metrics` (with its lint) on `text`; fails with
/// promtool's findings unless it exits 0.
pub fn promtool_check(text: &str) -> Result<()> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting promtool (Debian package prometheus: run `cargo xtask setup`)")?;
    child
        .stdin
        .take()
        .context("promtool stdin")?
        .write_all(text.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "promtool check metrics: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// One sample line: name, labels, value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample of a scrape, and the body it came from.
#[derive(Clone, Debug)]
pub struct Scrape {
    pub text: String,
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// Reads the sample lines of the text format (comments skipped).
    pub fn parse(text: &str) -> Result<Self> {
        let samples = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| parse_sample(l).with_context(|| format!("sample line {l:?}")))
            .collect::<Result<_>>()?;
        Ok(Self {
            text: text.to_string(),
            samples,
        })
    }

    /// Samples of `name` whose labels include every pair of `labels`.
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The one sample of `name` with `labels`; fails if there is none or
    /// more than one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64> {
        let found: Vec<&Sample> = self.matching(name, labels).collect();
        match found.as_slice() {
            [one] => Ok(one.value),
            [] => bail!("no sample {name} {labels:?} in:\n{}", self.text),
            many => bail!("{} samples {name} {labels:?}: {many:?}", many.len()),
        }
    }

    /// The sum over every sample of `name` with `labels` (0 when none).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }
}

fn parse_sample(line: &str) -> Result<Sample> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => bail!("no value"),
    };
    let mut labels = BTreeMap::new();
    let rest = if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start_matches(',');
            if let Some(after) = inner.strip_prefix('}') {
                break after;
            }
            let (key, after) = inner.split_once("=\"").context("label without a value")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c)) => value.push(c),
                        None => bail!("escape at the end"),
                    },
                    Some((_, c)) => value.push(c),
                    None => bail!("unterminated label value"),
                }
            };
            labels.insert(key.to_string(), value);
            inner = &after[end + 1..];
        }
    } else {
        rest
    };
    let value = rest
        .split_whitespace()
        .next()
        .context("no value")?
        .parse()
        .context("value")?;
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let scrape = Scrape::parse(
            "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"uo\\\\te\"} 3\nb 0.25\n",
        )
        .unwrap();
        assert_eq!(scrape.value("a_total", &[("x", "1")]).unwrap(), 3.0);
        assert_eq!(
            scrape.samples[0].labels["y"], "q\"uo\\te",
            "escapes are read"
        );
        assert_eq!(scrape.value("b", &[]).unwrap(), 0.25);
        assert!(scrape.value("a_total", &[("x", "2")]).is_err());
        assert_eq!(scrape.sum("a_total", &[]), 3.0);
    }

    #[test]
    fn a_response_with_its_headers_and_body() {
        let response = parse_response(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\ncontent-length: 3\r\n\r\nno\n",
        )
        .unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.headers["content-type"], "text/plain");
        assert_eq!(response.body, "no\n");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort").is_err());
    }
}
