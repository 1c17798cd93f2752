//! Every example backup config in the README and in docs/ parses and validates, so the docs
//! cannot drift from the schema.

use std::path::Path;

use celeriac_backup::BackupConfig;

/// Tables that mark a TOML block as a backup config example.
const BACKUP_TABLES: [&str; 5] = ["[backup]", "[keys]", "[limits]", "[collect", "[stores."];

/// The ```toml blocks of `text` that mention a backup table, except abbreviated ones (with
/// `…` standing for what another page shows): those are not whole configs.
fn backup_examples(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```toml") => current = Some(String::new()),
            Some(block) if line.trim_start().starts_with("```") => {
                if BACKUP_TABLES.iter().any(|t| block.contains(t)) && !block.contains('…') {
                    blocks.push(std::mem::take(block));
                }
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The backup commands' part of a whole-file example: the other subcommands' sections
/// (`[database]`, `[beat]`, `[job]`, the worker's keys) are theirs to check, as in the binary.
fn backup_part(example: &str) -> String {
    let mut table: toml::Table = example
        .parse()
        .unwrap_or_else(|e| panic!("not TOML: {e}\n{example}"));
    table.retain(|name, _| matches!(name, "backup" | "keys" | "limits" | "collect" | "stores"));
    toml::to_string(&table).unwrap()
}

#[test]
fn every_backup_config_example_in_the_docs_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (i, example) in backup_examples(&text).iter().enumerate() {
            if let Err(e) = BackupConfig::from_toml(&backup_part(example)) {
                panic!(
                    "example {} in {} is invalid: {:#}\n{example}",
                    i + 1,
                    file.display(),
                    anyhow::Error::new(e)
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "expected the README and docs/backup.md to hold backup config examples, found {checked}"
    );
}

#[test]
fn only_the_backup_part_of_an_example_is_checked_here() {
    let part = backup_part("[database]\nurl = \"x\"\n[backup]\nprefix = \"a\"\n");
    assert_eq!(part.parse::<toml::Table>().unwrap().len(), 1, "{part}");
    assert!(BackupConfig::from_toml(&backup_part("[backup]\nprefx = \"a\"\n")).is_err());
}

#[test]
fn the_example_finder_finds_blocks() {
    let text = "x\n```toml\n[backup]\nprefix = \"a\"\n```\n```toml\nname = 1\n```\n";
    assert_eq!(backup_examples(text), ["[backup]\nprefix = \"a\"\n"]);
    let abbreviated = "```toml\n[stores.r2]\n# … see docs/backup.md\n```\n";
    assert!(backup_examples(abbreviated).is_empty());
}
