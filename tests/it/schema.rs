//! The JSON Schema printed by `linkpatrol schema` accepts the bundled topology and rejects typos.

use std::path::Path;

use linkpatrol::topology::raw::json_schema;

fn yaml_to_json(yaml: &str) -> serde_json::Value {
    serde_saphyr::from_str::<serde_json::Value>(yaml).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).unwrap()
}

#[test]
fn schema_accepts_the_bundled_topology() {
    let yaml = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("topology.yaml"))
        .unwrap();
    let instance = yaml_to_json(&yaml);
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn schema_rejects_what_the_loader_rejects() {
    let v = validator();
    for bad in [
        "version: 1\nname: t\nservices: {a: {ownr: x}}\n",
        "version: 1\nname: t\nservices: {a: {depends_on: {b: strang}}}\n",
        "version: 1\nname: t\nservices: {a: {replicas: many}}\n",
        "version: 2\nname: t\nservices: {a: {}}\n",
        "version: 1\nname: t\ndefaults: {timeout: 2 sec}\nservices: {a: {}}\n",
        "version: 1\nname: t\nservices: {a: {probe: {http: {url: x, expect: {status: 700}}}}}\n",
        "version: 1\nname: t\nservices: {a: {probe: {prometheus: {url: x, query: up, expect: about}}}}\n",
        "version: 1\nname: t\nservices: {}\nrisks: {spof: maybe}\n",
        "name: t\nservices: {}\n",
    ] {
        assert!(!v.is_valid(&yaml_to_json(bad)), "schema accepted:\n{bad}");
    }
}

#[test]
fn schema_accepts_every_dependency_form() {
    let yaml = "version: 1\nname: t\nservices:\n  a:\n    depends_on:\n      b: strong\n      c: {strength: weak, timeout: 1s, fallback: x}\n      g: {strength: strong, any_of: [b, c], min: 1}\n  b: {}\n  c: {}\nrisks: {spof: off, deep-strong-chain: {max_depth: 3}}\n";
    let instance = yaml_to_json(yaml);
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn schema_accepts_operations_and_rejects_their_typos() {
    let yaml = "version: 1\nname: t\nlinks:\n  checkout: {entry: frontend, operation: checkout}\nservices:\n  frontend:\n    replicas: 3\n    depends_on: {currency: strong}\n    operations:\n      home: {description: x, depends_on: {catalog: strong}}\n      checkout: {probe: {http: {url: 'http://{address}/cart'}}, depends_on: {checkout-svc: strong}}\n  gateway:\n    depends_on: {frontend: {strength: strong, operation: home}}\n  currency: {}\n  catalog: {}\n  checkout-svc: {}\n";
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&yaml_to_json(yaml))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let typo = yaml.replace("home: {description", "home: {descripton");
    assert!(!v.is_valid(&yaml_to_json(&typo)));
}

#[test]
fn schema_accepts_slow_phases_and_rejects_an_unknown_phase() {
    let yaml = "version: 1\nname: t\nservices:\n  a:\n    probe:\n      http: {url: 'http://h/'}\n      slow: {first_byte: 150ms, total: 1s}\n  b: {probe: {http: {url: 'http://h/'}, slow: 300ms}}\n";
    let v = validator();
    let errors: Vec<String> = v
        .iter_errors(&yaml_to_json(yaml))
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    for bad in [
        yaml.replace("first_byte", "first_bite"),
        yaml.replace("150ms", "fast"),
    ] {
        assert!(!v.is_valid(&yaml_to_json(&bad)), "schema accepted:\n{bad}");
    }
}
