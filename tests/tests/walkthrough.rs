//! The README's "first five minutes", run as written: `weft-sim` and `weft serve` on the demo
//! manifests as `make run` starts them (in a scratch copy of the checkout's layout), then every
//! command between the README's walk-through markers in one shell, each `# →` line checked
//! against what the command before it printed. The README cannot rot without this failing.

use std::path::Path;
use std::time::Duration;
use weft_tests::harness::{weft_bin, workspace};

/// (commands, what their output must contain), in the README's order.
fn steps(readme: &str) -> Vec<(String, Vec<String>)> {
    let section = readme
        .split("<!-- walkthrough -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /walkthrough -->").next())
        .expect("the README has a walk-through section");
    let mut steps = Vec::new();
    for block in section.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap_or_default();
        let (mut commands, mut expected) = (Vec::<String>::new(), Vec::<String>::new());
        for line in block.lines() {
            if let Some(e) = line.strip_prefix("# → ") {
                expected.push(e.to_string());
                continue;
            }
            if !expected.is_empty() {
                steps.push((commands.join("\n"), std::mem::take(&mut expected)));
                commands.clear();
            }
            commands.push(line.to_string());
        }
        if !commands.is_empty() || !expected.is_empty() {
            steps.push((commands.join("\n"), expected));
        }
    }
    steps
}

fn link(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to).expect("symlink");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_works_as_written() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).expect("README");
    let steps = steps(&readme);
    assert!(steps.len() >= 10, "the walk-through lost its steps");

    // The checkout's layout, in a scratch folder: demo/ copied (the walk-through edits it),
    // target/ with the real builds linked in, data/ fresh.
    let root = tempfile::tempdir().expect("scratch");
    let root = root.path();
    std::fs::create_dir_all(root.join("demo")).expect("demo");
    for entry in std::fs::read_dir(workspace().join("demo")).expect("demo folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(
                &path,
                root.join("demo").join(path.file_name().expect("name")),
            )
            .expect("copy manifest");
        }
    }
    let target = weft_bin()
        .parent()
        .and_then(Path::parent)
        .expect("target folder")
        .to_path_buf();
    std::fs::create_dir_all(root.join("target")).expect("target");
    link(&target.join("debug"), &root.join("target/debug"));
    link(
        &target.join("wasm32-wasip2"),
        &root.join("target/wasm32-wasip2"),
    );

    let env_file = root.join("target/demo.env");
    let mut sim = tokio::process::Command::new(env!("CARGO_BIN_EXE_weft-sim"))
        .args(["--base-port", "0", "--env-file"])
        .arg(&env_file)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("weft-sim starts");
    let mut vars = Vec::new();
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&env_file) {
            for line in text.lines() {
                let (k, v) = line
                    .strip_prefix("export ")
                    .and_then(|l| l.split_once('='))
                    .expect("export K=V");
                vars.push((k.to_string(), v.trim_matches('\'').replace(r"'\''", "'")));
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!vars.is_empty(), "weft-sim wrote its variables");

    // `weft serve` as demo/run.sh starts it (a free port instead of 8080; no test key or
    // cache: the data folder makes its own, as a user's does).
    let log = std::fs::File::create(root.join("serve.log")).expect("log");
    let mut serve = tokio::process::Command::new(weft_bin())
        .current_dir(root)
        .args([
            "--manifests",
            "demo",
            "--data",
            "data",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("WEFT_STORE_KEY")
        .env_remove("WEFT_CACHE_DIR")
        .env("WEFT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("weft serve starts");
    let url = {
        use tokio::io::AsyncBufReadExt;
        let stdout = serve.stdout.take().expect("stdout");
        let mut line = String::new();
        tokio::io::BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("address line");
        line.trim()
            .strip_prefix("weft listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string()
    };

    let mut script = String::from("set -u\n");
    for (i, (commands, _)) in steps.iter().enumerate() {
        let commands = commands.replace("WEFT=http://127.0.0.1:8080", &format!("WEFT={url}"));
        script.push_str(&format!("echo '@@step {i}'\n{commands}\necho\n"));
    }
    let run = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(root)
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("WEFT_STORE_KEY")
        .env_remove("WEFT_CACHE_DIR")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the walk-through ends within 5 minutes")
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut outputs = vec![String::new(); steps.len()];
    let mut current = None;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("@@step ") {
            current = n.parse::<usize>().ok();
            continue;
        }
        if let Some(i) = current {
            outputs[i].push_str(line);
            outputs[i].push('\n');
        }
    }
    for (i, (commands, expected)) in steps.iter().enumerate() {
        for e in expected {
            assert!(
                outputs[i].contains(e.as_str()),
                "step {i}:\n{commands}\nprinted:\n{}\nwhich lacks {e:?}\n(stderr: {stderr})",
                outputs[i]
            );
        }
    }
    let _ = serve.kill().await;
    let _ = sim.kill().await;
}
