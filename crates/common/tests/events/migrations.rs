//! Every schema starts with the same outbox/inbox migration.

#[test]
fn every_service_schema_has_the_same_outbox_migration() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let reference = std::fs::read_to_string(root.join("settlement/0001_outbox_inbox.sql")).unwrap();
    for schema in ["gateway", "work_publisher", "bid_evaluator", "settlement", "certauth"] {
        let copy = std::fs::read_to_string(root.join(schema).join("0001_outbox_inbox.sql"))
            .unwrap_or_else(|e| panic!("{schema} lacks 0001_outbox_inbox.sql: {e}"));
        assert_eq!(copy, reference, "{schema}'s outbox migration differs from settlement's");
    }
}

#[test]
fn every_service_schema_has_the_same_outbox_reconciliation_migration() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let reference = std::fs::read_to_string(root.join("settlement/0006_outbox_verified.sql")).unwrap();
    for schema in ["gateway", "work_publisher", "bid_evaluator", "settlement", "certauth"] {
        let copies: Vec<_> = std::fs::read_dir(root.join(schema))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with("_outbox_verified.sql"))
            .collect();
        assert_eq!(copies.len(), 1, "{schema} needs exactly one outbox reconciliation migration");
        let copy = std::fs::read_to_string(copies[0].path()).unwrap();
        assert_eq!(copy, reference, "{schema}'s outbox reconciliation migration differs from settlement's");
    }
}
