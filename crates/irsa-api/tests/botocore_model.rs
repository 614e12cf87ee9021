//! Checks every implemented operation's spec table against the AWS service
//! models botocore ships: member names, required flags, kinds, length and
//! range limits, patterns, enum values, sensitivity. Locates botocore via
//! `python3`; when it is not importable the test is skipped with a notice,
//! except under `CI=true`, where that is a failure.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use irsa_api::model::{Member, Shape, ShapeKind, OPERATIONS};
use irsa_api::Service;
use serde_json::Value;

fn botocore_data_dir() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import botocore,os;print(os.path.dirname(botocore.__file__))",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?;
    Some(Path::new(dir.trim()).join("data"))
}

fn load_model(data: &Path, service: &str, version: &str) -> Value {
    let base = data.join(service).join(version);
    let plain = base.join("service-2.json");
    let text = if plain.exists() {
        std::fs::read_to_string(&plain).expect("read service-2.json")
    } else {
        let gz =
            std::fs::File::open(base.join("service-2.json.gz")).expect("open service-2.json.gz");
        let mut s = String::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_string(&mut s)
            .expect("gunzip model");
        s
    };
    serde_json::from_str(&text).expect("model is JSON")
}

fn compare_members(
    model: &Value,
    context: &str,
    members: &[Member],
    shape_json: &Value,
    problems: &mut Vec<String>,
) {
    let model_members = shape_json["members"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let required: Vec<&str> = shape_json["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let ours: Vec<&str> = members.iter().map(|m| m.name).collect();
    let theirs: Vec<String> = model_members
        .iter()
        .map(|(name, m)| m["locationName"].as_str().unwrap_or(name).to_owned())
        .collect();
    let mut ours_sorted = ours.clone();
    ours_sorted.sort_unstable();
    let mut theirs_sorted: Vec<&str> = theirs.iter().map(String::as_str).collect();
    theirs_sorted.sort_unstable();
    if ours_sorted != theirs_sorted {
        problems.push(format!(
            "{context}: members {ours_sorted:?} != model {theirs_sorted:?}"
        ));
        return;
    }
    for (name, m) in &model_members {
        let wire = m["locationName"].as_str().unwrap_or(name);
        let Some(member) = members.iter().find(|x| x.name == wire) else {
            continue;
        };
        let ctx = format!("{context}.{wire}");
        let is_required = required.contains(&name.as_str());
        if member.required != is_required {
            problems.push(format!(
                "{ctx}: required {} != model {is_required}",
                member.required
            ));
        }
        let shape_name = m["shape"].as_str().expect("member shape");
        compare_shape(model, &ctx, member.shape, shape_name, problems);
    }
}

fn compare_shape(
    model: &Value,
    context: &str,
    ours: &Shape,
    name: &str,
    problems: &mut Vec<String>,
) {
    let s = &model["shapes"][name];
    if ours.name != name {
        problems.push(format!("{context}: shape {} != model {name}", ours.name));
    }
    let ty = s["type"].as_str().unwrap_or_default();
    let kind_ok = matches!(
        (&ours.kind, ty),
        (ShapeKind::String, "string")
            | (ShapeKind::Integer, "integer")
            | (ShapeKind::Long, "long")
            | (ShapeKind::Boolean, "boolean")
            | (ShapeKind::Timestamp, "timestamp")
            | (ShapeKind::List(_), "list")
            | (ShapeKind::Structure(_), "structure")
    );
    if !kind_ok {
        problems.push(format!("{context}: kind {:?} != model {ty}", ours.kind));
        return;
    }
    let num = |v: &Value| v.as_i64();
    if ours.min != num(&s["min"]) {
        problems.push(format!(
            "{context}: min {:?} != model {:?}",
            ours.min, s["min"]
        ));
    }
    if ours.max != num(&s["max"]) {
        problems.push(format!(
            "{context}: max {:?} != model {:?}",
            ours.max, s["max"]
        ));
    }
    if ours.pattern != s["pattern"].as_str() {
        problems.push(format!(
            "{context}: pattern {:?} != model {:?}",
            ours.pattern, s["pattern"]
        ));
    }
    let enums: Vec<&str> = s["enum"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ours.enum_values != enums.as_slice() {
        problems.push(format!(
            "{context}: enum {:?} != model {enums:?}",
            ours.enum_values
        ));
    }
    if ours.sensitive != s["sensitive"].as_bool().unwrap_or(false) {
        problems.push(format!(
            "{context}: sensitive {} differs from the model",
            ours.sensitive
        ));
    }
    match &ours.kind {
        ShapeKind::List(element) => {
            let element_name = s["member"]["shape"].as_str().expect("list member shape");
            compare_shape(
                model,
                &format!("{context}[]"),
                element,
                element_name,
                problems,
            );
        }
        ShapeKind::Structure(members) => compare_members(model, context, members, s, problems),
        _ => {}
    }
}

#[test]
fn specs_agree_with_botocore_models() {
    let Some(data) = botocore_data_dir().filter(|d| d.join("sts").exists()) else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "botocore is not importable by python3, and CI=true: install it (pip install botocore)"
        );
        eprintln!(
            "NOTICE: botocore not found via python3; skipping the service-model conformance test"
        );
        return;
    };
    let sts = load_model(&data, "sts", Service::Sts.api_version());
    let iam = load_model(&data, "iam", Service::Iam.api_version());
    assert_eq!(sts["metadata"]["protocol"], "query");
    assert_eq!(iam["metadata"]["apiVersion"], Service::Iam.api_version());
    let mut problems = Vec::new();
    let mut checked_members = 0;
    for op in OPERATIONS {
        let model = match op.service {
            Service::Sts => &sts,
            Service::Iam => &iam,
        };
        let Some(model_op) = model["operations"].get(op.name) else {
            problems.push(format!(
                "{}: not an operation of the {:?} model",
                op.name, op.service
            ));
            continue;
        };
        match model_op["input"]["shape"].as_str() {
            Some(input) => {
                compare_members(
                    model,
                    op.name,
                    op.input,
                    &model["shapes"][input],
                    &mut problems,
                );
                checked_members += op.input.len();
            }
            None if op.input.is_empty() => {}
            None => problems.push(format!(
                "{}: has members but the model has no input",
                op.name
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} disagreements:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        OPERATIONS.len() >= 70,
        "only {} operations",
        OPERATIONS.len()
    );
    assert!(
        checked_members > 150,
        "only {checked_members} members checked"
    );
    eprintln!(
        "checked {} operations, {checked_members} top-level members against botocore",
        OPERATIONS.len()
    );
}

/// `src/model/generated.rs` is what the generator produces (no hand edits);
/// the first line (botocore's version) may differ.
#[test]
fn generated_tables_are_fresh() {
    if botocore_data_dir().is_none_or(|d| !d.join("sts").exists()) {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "botocore is not importable by python3, and CI=true"
        );
        eprintln!("NOTICE: botocore not found via python3; skipping the generator freshness test");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(dir.join("tools/gen_model.py"))
        .output()
        .expect("run the generator");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = String::from_utf8(out.stdout).expect("UTF-8");
    let current =
        std::fs::read_to_string(dir.join("src/model/generated.rs")).expect("read generated.rs");
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        body(&fresh) == body(&current),
        "src/model/generated.rs is stale: run python3 crates/irsa-api/tools/gen_model.py > crates/irsa-api/src/model/generated.rs"
    );
}
