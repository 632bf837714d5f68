//! `--format ecs`: every document of every fixture checked against the published Elastic Common
//! Schema field types (`tests/data/ecs-fields.json`, copied from ECS 9.4.0's
//! `generated/ecs/ecs_flat.yml`), and exact documents for chosen fixtures.

mod common;

use common::{analyze_json, project_path, run};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One ECS field of the table.
struct Field {
    ty: String,
    array: bool,
    allowed: Option<Vec<String>>,
}

/// The table: fields by dotted name, and every top-level name of the ECS release.
fn table() -> (BTreeMap<String, Field>, BTreeSet<String>, String) {
    let text = std::fs::read_to_string(project_path("tests/data/ecs-fields.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let fields = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let allowed = f["allowed_values"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect());
            (
                f["name"].as_str().unwrap().to_string(),
                Field {
                    ty: f["type"].as_str().unwrap().to_string(),
                    array: f["array"].as_bool().unwrap(),
                    allowed,
                },
            )
        })
        .collect();
    let tops = doc["top_level_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    (
        fields,
        tops,
        doc["ecs_version"].as_str().unwrap().to_string(),
    )
}

/// The event types ECS expects with each category of the table.
fn expected_types() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(project_path("tests/data/ecs-fields.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let category = doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "event.category")
        .unwrap();
    category["expected_event_types"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let types = v
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            (k.clone(), types)
        })
        .collect()
}

/// RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':')
}

/// What is wrong with one scalar `value` of a field of ECS type `ty`.
fn scalar_problem(ty: &str, value: &Value) -> Option<String> {
    let ok = match ty {
        "keyword" | "match_only_text" | "wildcard" | "text" => value.is_string(),
        "ip" => value
            .as_str()
            .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        "long" => value.as_i64().is_some(),
        "date" => value.as_str().is_some_and(is_rfc3339),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        other => return Some(format!("type {other} has no check")),
    };
    (!ok).then(|| format!("{value} is not a {ty}"))
}

/// The leaves of `doc` outside `alpnscope`, by dotted name (arrays are leaves).
fn leaves(prefix: &str, object: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (key, value) in object {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if name == "alpnscope" {
            continue;
        }
        match value {
            Value::Object(inner) => leaves(&name, inner, out),
            // An array of objects (`dns.answers`): the array is the field's value, and the
            // objects' fields are fields under its name.
            Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
                out.push((name.clone(), value.clone()));
                for inner in items.iter().filter_map(Value::as_object) {
                    leaves(&name, inner, out);
                }
            }
            _ => out.push((name, value.clone())),
        }
    }
}

/// The problems of one document against the table; the ECS names it used go to `seen`.
fn problems(
    doc: &Value,
    fields: &BTreeMap<String, Field>,
    version: &str,
    seen: &mut BTreeSet<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    let Some(object) = doc.as_object() else {
        return vec!["not a JSON object".into()];
    };
    let tops: BTreeSet<&str> = fields
        .keys()
        .map(|n| n.split('.').next().unwrap())
        .collect();
    for key in object.keys() {
        if key != "alpnscope" && !tops.contains(key.as_str()) {
            found.push(format!("top-level {key} is not in the table"));
        }
    }
    if !object.get("alpnscope").is_some_and(Value::is_object) {
        found.push("no alpnscope object".into());
    }
    if doc["ecs"]["version"] != version {
        found.push(format!(
            "ecs.version {} is not {version}",
            doc["ecs"]["version"]
        ));
    }
    // ECS lists, per category, the event types that go with it.
    let expected = expected_types();
    for category in doc["event"]["category"].as_array().into_iter().flatten() {
        let category = category.as_str().unwrap_or("?");
        let Some(types) = expected.get(category) else {
            found.push(format!(
                "event.category {category}: no expected event types in the table"
            ));
            continue;
        };
        for t in doc["event"]["type"].as_array().into_iter().flatten() {
            if !t.as_str().is_some_and(|t| types.iter().any(|e| e == t)) {
                found.push(format!(
                    "event.type {t} is not expected with event.category {category}"
                ));
            }
        }
    }
    let mut all = Vec::new();
    leaves("", object, &mut all);
    for (name, value) in all {
        let Some(field) = fields.get(&name) else {
            found.push(format!("{name} is not an ECS field of the table"));
            continue;
        };
        seen.insert(name.clone());
        let values: Vec<&Value> = match (&value, field.array) {
            (Value::Array(items), true) => items.iter().collect(),
            (_, true) => {
                found.push(format!("{name}: {value} is not an array"));
                continue;
            }
            (Value::Array(_), false) => {
                found.push(format!(
                    "{name}: {value} is an array, ECS declares one value"
                ));
                continue;
            }
            (_, false) => vec![&value],
        };
        for v in values {
            if let Some(p) = scalar_problem(&field.ty, v) {
                found.push(format!("{name}: {p}"));
            }
            if let Some(allowed) = &field.allowed
                && !v.as_str().is_some_and(|s| allowed.iter().any(|a| a == s))
            {
                found.push(format!("{name}: {v} is not an allowed value"));
            }
        }
    }
    found
}

/// The kind of every value under `path` in `value` as a search engine maps it (object, string,
/// number, boolean; nulls map nothing; array elements share their array's name), with the first
/// document that showed it.
fn kinds_of(
    path: &str,
    value: &Value,
    doc: &str,
    kinds: &mut BTreeMap<String, BTreeMap<&'static str, String>>,
) {
    let mut note = |kind: &'static str| {
        kinds
            .entry(path.to_string())
            .or_default()
            .entry(kind)
            .or_insert_with(|| doc.to_string());
    };
    match value {
        Value::Null => {}
        Value::Bool(_) => note("boolean"),
        Value::Number(_) => note("number"),
        Value::String(_) => note("string"),
        Value::Array(items) => {
            for item in items {
                kinds_of(path, item, doc, kinds);
            }
        }
        Value::Object(map) => {
            if !path.is_empty() {
                note("object");
            }
            for (key, inner) in map {
                let name = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                kinds_of(&name, inner, doc, kinds);
            }
        }
    }
}

/// Every capture under fixtures/, with its key log when one sits beside it.
fn fixtures() -> Vec<(PathBuf, Option<PathBuf>)> {
    let mut found: Vec<_> = std::fs::read_dir(project_path("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            ["pcap", "pcapng"].contains(&ext)
        })
        .map(|p| {
            let keys = p.with_extension("keys");
            let keys = keys.is_file().then_some(keys);
            (p, keys)
        })
        .collect();
    found.sort();
    assert!(found.len() > 60, "{} fixtures", found.len());
    found
}

/// The ECS documents of one capture (`--all`, with its key log).
fn ecs_docs(capture: &Path, keys: &Option<PathBuf>, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["analyze", "--format", "ecs", "--all"];
    if let Some(keys) = keys {
        args.extend(["--keylog", keys.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    args.push(capture.to_str().unwrap());
    let out = run(&args);
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "{}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_document_of_every_fixture_has_the_published_ecs_types() {
    let (fields, ecs_tops, version) = table();
    assert!(
        !ecs_tops.contains("alpnscope"),
        "alpnscope collides with an ECS field set"
    );
    let mut seen = BTreeSet::new();
    let mut all_problems = Vec::new();
    let mut flow_docs = 0;
    let mut kinds: BTreeMap<String, BTreeMap<&'static str, String>> = BTreeMap::new();
    for (capture, keys) in fixtures() {
        let docs = ecs_docs(&capture, &keys, &[]);
        let name = capture.file_name().unwrap().to_string_lossy().to_string();
        // As many flow, capture, DNS HTTPS and diagnosis documents as the JSON report has
        // flows, captures, DNS HTTPS records and findings, and one summary, in that order.
        let mut json_args = vec!["--all"];
        if let Some(keys) = &keys {
            json_args.extend(["--keylog", keys.to_str().unwrap()]);
        }
        let json = analyze_json_any_exit(&capture, &json_args);
        let datasets: Vec<&str> = docs
            .iter()
            .map(|d| d["event"]["dataset"].as_str().unwrap_or("?"))
            .collect();
        let mut expected = vec!["alpnscope.flow"; json["flows"].as_array().unwrap().len()];
        expected.extend(vec![
            "alpnscope.capture";
            json["captures"].as_array().unwrap().len()
        ]);
        expected.extend(vec![
            "alpnscope.dns_https";
            json["dns_https"].as_array().unwrap().len()
        ]);
        expected.extend(vec![
            "alpnscope.diagnosis";
            json["diagnosis"].as_array().unwrap().len()
        ]);
        expected.push("alpnscope.summary");
        assert_eq!(datasets, expected, "{name}");
        for (i, doc) in docs.iter().enumerate() {
            if doc["event"]["dataset"] == "alpnscope.flow" {
                flow_docs += 1;
                assert!(doc["@timestamp"].is_string(), "{name} document {i}");
                assert_eq!(
                    doc["network"]["community_id"], json["flows"][i]["community_id"],
                    "{name} document {i}"
                );
                assert_eq!(doc["alpnscope"]["verdict"], json["flows"][i]["verdict"]);
            }
            for p in problems(doc, &fields, &version, &mut seen) {
                all_problems.push(format!("{name} document {i}: {p}"));
            }
            kinds_of("", doc, &format!("{name} document {i}"), &mut kinds);
        }
    }
    // Elasticsearch maps a field once per index, from the first value it sees: a name that is
    // an object in one document and a value in another, or a string in one and a number in
    // another, would get documents rejected. Every name keeps one kind across all documents.
    for (path, seen_kinds) in &kinds {
        if seen_kinds.len() > 1 {
            all_problems.push(format!("{path} is {seen_kinds:?}"));
        }
    }
    assert!(
        all_problems.is_empty(),
        "{} problems:\n{}",
        all_problems.len(),
        all_problems.join("\n")
    );
    assert!(flow_docs > 100, "{flow_docs} flow documents");
    // Every field of the table is written by some fixture: the table lists what is used.
    let unused: Vec<&String> = fields.keys().filter(|n| !seen.contains(*n)).collect();
    assert!(unused.is_empty(), "never written: {unused:?}");
}

/// `analyze --format json` accepting exit status 1 (`--fail-on` is not used, but a capture
/// with errors ends with 1 after its report).
fn analyze_json_any_exit(capture: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(capture.to_str().unwrap());
    let out = run(&args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {}",
            capture.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The checker itself rejects what it must.
#[test]
fn the_checker_rejects_wrong_types_and_unknown_names() {
    let (fields, _, version) = table();
    let mut seen = BTreeSet::new();
    let bad = serde_json::json!({
        "@timestamp": "27 Nov 2026",
        "ecs": {"version": version},
        "event": {"kind": "flow", "category": "network", "type": ["connection"]},
        "source": {"ip": "not-an-ip", "port": "443"},
        "network": {"community_id": 1},
        "tls": {"established": "yes", "client": {"ja4": "t13d"}},
        "flow": {"id": 1},
        "alpnscope": {}
    });
    let found = problems(&bad, &fields, &version, &mut seen);
    assert_eq!(
        found,
        [
            "top-level flow is not in the table",
            "@timestamp: \"27 Nov 2026\" is not a date",
            "event.category: \"network\" is not an array",
            "event.kind: \"flow\" is not an allowed value",
            "flow.id is not an ECS field of the table",
            "network.community_id: 1 is not a keyword",
            "source.ip: \"not-an-ip\" is not a ip",
            "source.port: \"443\" is not a long",
            "tls.client.ja4 is not an ECS field of the table",
            "tls.established: \"yes\" is not a boolean",
        ]
    );
    let wrong_type = serde_json::json!({
        "ecs": {"version": version},
        "event": {"kind": "event", "category": ["network"], "type": ["creation"]},
        "alpnscope": {}
    });
    assert_eq!(
        problems(&wrong_type, &fields, &version, &mut seen),
        ["event.type \"creation\" is not expected with event.category network"]
    );
    assert!(is_rfc3339("2026-11-27T17:02:18.010184Z"));
    assert!(is_rfc3339("2026-11-27T17:02:18+01:00"));
    assert!(!is_rfc3339("2026-11-27 17:02:18Z"));
}

/// The TLS 1.2 flow of `ipv6.pcap`, outside `alpnscope`, exactly; and what `alpnscope` keeps.
#[test]
fn tls12_flow_document() {
    let docs = ecs_docs(&project_path("fixtures/ipv6.pcap"), &None, &[]);
    let mut flow = docs[0].clone();
    let extra = flow.as_object_mut().unwrap().remove("alpnscope").unwrap();
    let ciphers = flow["tls"]["client"]["supported_ciphers"].take();
    assert_eq!(
        flow,
        serde_json::json!({
            "@timestamp": "2026-11-27T17:02:18.010184Z",
            "ecs": {"version": "9.4.0"},
            "message": "the server selected h2, the client's first choice",
            "event": {"kind": "event", "category": ["network"], "type": ["connection", "protocol"],
                      "dataset": "alpnscope.flow", "module": "alpnscope", "outcome": "success"},
            "source": {"ip": "::1", "port": 47968},
            "destination": {"ip": "::1", "port": 8443},
            "network": {"transport": "tcp", "type": "ipv6", "iana_number": "6",
                        "protocol": "http", "community_id": "1:84RbP0BC/s1QMr0AmQ7FGQAHm9I="},
            "tls": {"version": "1.2", "version_protocol": "tls",
                    "cipher": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "next_protocol": "h2",
                    "established": true,
                    "client": {"server_name": "alpn.test", "supported_ciphers": null},
                    "server": {"x509": {"subject": {"distinguished_name": "CN=alpn.test"},
                                        "issuer": {"distinguished_name": "CN=alpn.test"},
                                        "alternative_names": ["alpn.test", "127.0.0.1", "::1",
                                                              "192.0.2.2"]}}}
        })
    );
    let ciphers = ciphers.as_array().unwrap();
    assert_eq!(ciphers.len(), 28);
    assert_eq!(ciphers[0], "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384");
    assert_eq!(ciphers[27], "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
    let keys: BTreeSet<&str> = extra
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "id",
            "capture",
            "tcp_stream",
            "transport",
            "first_frame",
            "last_frame",
            "tls_version",
            "alpn_offered",
            "alpn_source",
            "verdict",
            "detail",
            "evidence_frames",
            "client_hello",
            "server_hello",
            "encrypted_extensions",
            "server_certificate",
            "decryption",
            "alerts",
            "proxy",
            "starttls",
            "tcp",
            "quic",
            "network",
            "notes",
        ])
    );
    assert_eq!(extra["verdict"], "agreed");
    assert_eq!(extra["alpn_offered"], serde_json::json!(["h2", "http/1.1"]));
    assert_eq!(extra["alpn_source"], "server_hello");
    assert_eq!(extra["evidence_frames"], serde_json::json!([4, 6]));
    assert_eq!(
        extra["client_hello"]["ja4"],
        "t12d2807h2_d943125447b4_a44c6288192a"
    );
    // The same flow object as in JSON, for every field alpnscope keeps.
    let json = analyze_json(project_path("fixtures/ipv6.pcap").to_str().unwrap(), &[]);
    for key in keys {
        assert_eq!(extra[key], json["flows"][0][key], "{key}");
    }
}

/// `--help` names the format and what it is for.
#[test]
fn help_mentions_ecs() {
    let out = run(&["analyze", "--help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("- ecs:      Elastic Common Schema: one JSON document per flow per line"),
        "{help}"
    );
}

/// `network.protocol` comes from what the packets carried, never from the port: a STARTTLS
/// session's protocol, plain HTTP sent to a TLS port, nothing for a server that selected none.
#[test]
fn network_protocol_from_the_packets() {
    let protocol = |name: &str, keys: Option<PathBuf>| -> Vec<Value> {
        ecs_docs(&project_path(&format!("fixtures/{name}")), &keys, &[])
            .into_iter()
            .filter(|d| d["event"]["dataset"] == "alpnscope.flow")
            .map(|d| d["network"]["protocol"].clone())
            .collect()
    };
    // Switched, switched, refused: the ManageSieve session is known either way.
    assert_eq!(
        protocol("starttls-managesieve.pcap", None),
        ["managesieve", "managesieve", "managesieve"]
    );
    // The plain HTTP request, then a TLS 1.3 flow whose selection is encrypted.
    assert_eq!(
        protocol("http-to-tls-port.pcap", None),
        [Value::from("http"), Value::Null]
    );
    assert_eq!(
        protocol("tls12-server-no-alpn.pcap", None),
        [Value::Null, Value::Null]
    );
    assert_eq!(protocol("quic-h3-agreed.pcap", None), [Value::Null]);
    let keys = project_path("fixtures/quic-h3-agreed.keys");
    assert_eq!(protocol("quic-h3-agreed.pcap", Some(keys)), ["http"]);
}
