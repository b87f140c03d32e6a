//! The CLI as a process, without a Docker engine.

use super::support::kip;
use std::path::Path;

/// An address where no Docker engine answers.
const NO_ENGINE: &str = "tcp://127.0.0.1:1";

#[test]
fn version_and_help() {
    let run = kip(&["--version"]).run();
    run.success();
    assert_eq!(
        run.stdout.trim(),
        format!("kip {}", env!("CARGO_PKG_VERSION"))
    );
    let help = kip(&["--help"]).run();
    help.success();
    for command in [
        "up",
        "down",
        "list",
        "status",
        "kubeconfig",
        "logs",
        "exec",
        "completions",
    ] {
        assert!(
            help.stdout.contains(&format!("\n  {command} ")),
            "{command} missing\n{}",
            help.stdout
        );
    }
}

#[test]
fn bad_input_is_a_usage_error_that_names_the_fix() {
    kip(&["up", "Bad_Name"])
        .run()
        .code(2)
        .stderr_has("DNS-1123");
    kip(&["up", &"a".repeat(41)])
        .run()
        .code(2)
        .stderr_has("at most 40");
    kip(&["up", "--wait", "soon"])
        .run()
        .code(2)
        .stderr_has("examples: 90s, 5m");
    kip(&["up", "--api-port", "0"]).run().code(2);
    kip(&["up", "--security", "root"])
        .run()
        .code(2)
        .stderr_has("privileged");
    kip(&["up", "--dockerd-arg", "--debug --tls"])
        .run()
        .code(2)
        .stderr_has("without spaces");
    kip(&["up", "--mtu", "100"]).run().code(2);
    kip(&["exec", "demo"]).run().code(2);
}

#[test]
fn an_unreachable_engine_names_the_address_and_its_source() {
    let run = kip(&["list"]).env("DOCKER_HOST", NO_ENGINE).run();
    run.code(3)
        .stderr_has(&format!("cannot reach Docker at {NO_ENGINE}"))
        .stderr_has("DOCKER_HOST");
    let run = kip(&["list"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .run();
    run.code(3)
        .stderr_has("/nonexistent/docker.sock")
        .stderr_has("DOCKER_HOST");
    assert!(!run.stderr.contains("panicked"), "{run}");
}

#[test]
fn an_unparseable_kubeconfig_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let broken = "apiVersion: v1\nclusters: [\n  - this is: not yaml\n";
    std::fs::write(&path, broken).unwrap();
    let run = kip(&["up", "demo"])
        .env("DOCKER_HOST", NO_ENGINE)
        .kubeconfig(&path)
        .run();
    run.code(3)
        .stderr_has("cannot parse kubeconfig")
        .stderr_has("untouched");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temp or lock file left"
    );
}

#[test]
fn a_kubeconfig_that_is_not_a_regular_file_is_refused_before_anything() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("config");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    for (path, kind) in [
        (Path::new("/dev/null"), "a character device"),
        (&link, "a character device"),
        (&folder, "a directory"),
    ] {
        let run = kip(&["up", "demo"])
            .env("DOCKER_HOST", NO_ENGINE)
            .kubeconfig(path)
            .run();
        // Refused before Docker is asked anything.
        run.code(3)
            .stderr_has(&path.display().to_string())
            .stderr_has(kind)
            .stderr_has("--kubeconfig FILE");
        assert!(!run.stderr.contains("cannot reach Docker"), "{run}");
    }
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn a_kubeconfig_whose_clusters_is_not_a_list_is_refused_before_anything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    let odd = "apiVersion: v1\nclusters: oops\n";
    std::fs::write(&path, odd).unwrap();
    let run = kip(&["up", "demo"])
        .env("DOCKER_HOST", NO_ENGINE)
        .kubeconfig(&path)
        .run();
    run.code(3)
        .stderr_has(&path.display().to_string())
        .stderr_has("`clusters` is a string, not a list")
        .stderr_has("untouched");
    assert!(!run.stderr.contains("cannot reach Docker"), "{run}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), odd);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_duration_beyond_a_century_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let run = kip(&["up", "cfg", "--dry-run", "--ttl", "1000000000h"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run();
    run.code(2).stderr_has("at most 100 years");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "ttl: 9000y\n").unwrap();
    let run = kip(&["up", "cfg", "--dry-run"])
        .env("DOCKER_HOST", NO_ENGINE)
        .env("KIP_CONFIG", &config)
        .run();
    run.code(2)
        .stderr_has("at most 100 years")
        .stderr_has(config.to_str().unwrap());
}

/// `kip` as an unprivileged user: as root (CI) through setpriv as nobody,
/// since root may write where permissions say no.
fn unprivileged(kip: super::support::Kip) -> std::process::Command {
    let command = kip.command();
    if unsafe { libc::geteuid() } != 0 {
        return command;
    }
    let mut setpriv = std::process::Command::new("setpriv");
    setpriv
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(std::process::Stdio::null());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => setpriv.env(key, value),
            None => setpriv.env_remove(key),
        };
    }
    setpriv
}

#[test]
fn a_kubeconfig_kip_cannot_write_is_refused_before_anything() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let folder = dir.path().join("read-only");
    std::fs::create_dir(&folder).unwrap();
    let existing = folder.join("config");
    std::fs::write(&existing, "apiVersion: v1\nkind: Config\n").unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).unwrap();
    for path in [existing.clone(), folder.join("new/config")] {
        // No config file either: HOME may be one a root test run made
        // (an empty file is no settings).
        let kip = kip(&["up", "demo", "-o", "json"])
            .env("DOCKER_HOST", NO_ENGINE)
            .env("KIP_CONFIG", "/dev/null")
            .kubeconfig(&path);
        let run = super::support::Run::from(unprivileged(kip).output().unwrap());
        run.code(3)
            .stderr_has(&path.display().to_string())
            .stderr_has("cannot be written")
            .stderr_has("--kubeconfig FILE");
        assert!(!run.stderr.contains("cannot reach Docker"), "{run}");
        assert_eq!(
            run.stdout, "",
            "no JSON names a kubeconfig it did not write"
        );
    }
    assert_eq!(
        std::fs::read_to_string(&existing).unwrap(),
        "apiVersion: v1\nkind: Config\n"
    );
    assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1);
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn dry_run_prints_the_plan_without_an_engine() {
    let run = kip(&[
        "up",
        "ci-7",
        "--dry-run",
        "--cert-san",
        "ci.example.com",
        "--mtu",
        "1440",
    ])
    .env("DOCKER_HOST", NO_ENGINE)
    .run();
    run.success().stderr_has("cannot reach Docker");
    let plan: serde_yaml::Value = serde_yaml::from_str(&run.stdout).expect("the plan is YAML");
    assert_eq!(plan["node"]["name"].as_str(), Some("kip-ci-7"));
    assert_eq!(plan["node"]["env"]["KIP_MTU"].as_str(), Some("1440"));
    assert_eq!(
        plan["kindConfig"]["networking"]["apiServerAddress"].as_str(),
        Some("0.0.0.0")
    );
    let patches = plan["kindConfig"]["kubeadmConfigPatches"]
        .as_sequence()
        .unwrap();
    assert!(patches
        .iter()
        .any(|p| p.as_str().unwrap().contains("cgroupRoot: /kubelet")));
    assert!(patches
        .iter()
        .any(|p| p.as_str().unwrap().contains("- ci.example.com")));
    assert!(plan["bootstrapScript"]
        .as_str()
        .unwrap()
        .starts_with("#!/bin/sh"));
}

fn completion_file(shell: &str) -> &'static str {
    match shell {
        "bash" => "kip.bash",
        "zsh" => "_kip",
        "fish" => "kip.fish",
        "powershell" => "_kip.ps1",
        "elvish" => "kip.elv",
        other => panic!("no completion file for {other}"),
    }
}

#[test]
fn checked_in_completions_match_the_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = kip(&["completions", shell]).run();
        run.success();
        let path = dir.join(completion_file(shell));
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            file == run.stdout,
            "{} is stale: regenerate with `kip completions {shell} > {}`",
            path.display(),
            path.display()
        );
    }
}

#[test]
fn a_closed_stdout_ends_kip_by_sigpipe_without_a_word() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    // A pipe whose reader is already gone: kip's first write to stdout
    // fails, every time (`| head` only races to close first).
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills the two descriptors, owned from here on.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(reader);
    for args in [
        &["completions", "bash"][..],
        &["man"],
        &["up", "--dry-run", "closed-stdout"],
    ] {
        let out = std::process::Command::new(super::support::kip_bin())
            .args(args)
            .env("DOCKER_HOST", NO_ENGINE)
            .stdout(std::process::Stdio::from(writer.try_clone().unwrap()))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        // Killed by SIGPIPE like any Unix tool, with no panic or error
        // (the dry run warns that no engine answers, rightly).
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            out.status
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        for bad in ["panicked", "error:", "Broken pipe"] {
            assert!(!stderr.contains(bad), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn man_page_renders() {
    let run = kip(&["man"]).run();
    run.success().stdout_has(".TH kip");
    // One page is installed: it may not send the reader to kip-up(1) & co.
    assert!(!run.stdout.contains("kip\\-up(1)"), "{}", run.stdout);
    for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"] {
        run.stdout_has(&format!(".SH {section}"));
    }
    for var in [
        "DOCKER_HOST",
        "KUBECONFIG",
        "KIP_CONFIG",
        "KIP_TTL",
        "KIP_ACCEPT_WARNINGS",
    ] {
        run.stdout_has(&format!("\\fB{var}\\fR"));
    }
}

/// The documented exit-code table (docs/reference.md), row for row, is
/// what kip's man page (made from the codes kip uses) says.
#[test]
fn the_documented_exit_code_table_is_the_man_pages() {
    let reference =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md"))
            .unwrap();
    let table = reference
        .split("## Exit codes")
        .nth(1)
        .expect("docs/reference.md has an exit code section");
    let documented_rows: Vec<(String, String)> = table
        .lines()
        .skip_while(|l| !l.starts_with("| code"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect();
    let man = kip(&["man"]).run().stdout;
    let section = man
        .split(".SH EXIT STATUS\n")
        .nth(1)
        .unwrap()
        .split(".SH ")
        .next()
        .unwrap();
    let man_rows: Vec<(String, String)> = section
        .split(".TP\n")
        .skip(1)
        .map(|entry| {
            let mut lines = entry.lines();
            let code = lines
                .next()
                .unwrap()
                .replace("\\fB", "")
                .replace("\\fR", "");
            let meaning = lines
                .next()
                .unwrap()
                .replace("\\-", "-")
                .replace("\\e", "\\");
            (code, meaning)
        })
        .collect();
    assert!(!documented_rows.is_empty(), "no rows in the table");
    assert_eq!(documented_rows, man_rows);
}

#[test]
fn install_sh_says_it_is_building() {
    // install.sh from a copy of the checkout, with a cargo that only
    // makes a stand-in binary: what the user sees before a long build.
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let here = dir.path().join("checkout");
    std::fs::create_dir_all(here.join("completions")).unwrap();
    std::fs::copy(root.join("install.sh"), here.join("install.sh")).unwrap();
    for file in ["kip.bash", "_kip", "kip.fish"] {
        std::fs::copy(
            root.join("completions").join(file),
            here.join("completions").join(file),
        )
        .unwrap();
    }
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\nmkdir -p {t}\nprintf '#!/bin/sh\\necho kip 0\\n' > {t}/kip\nchmod +x {t}/kip\n",
            t = here.join("target/release").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = std::process::Command::new("sh")
        .arg(here.join("install.sh"))
        .arg("--prefix")
        .arg(dir.path().join("prefix"))
        .env("PATH", path)
        .output()
        .unwrap();
    let run = super::support::Run::from(out);
    run.success()
        .stderr_has("building kip")
        .stdout_has("installed kip 0");
}

/// A config file (`KIP_CONFIG`) of the defaults `--dry-run` shows.
fn config_file(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        "dindImage: from-config:1\nimage: kind-from-config:1\nttl: 3h\n",
    )
    .unwrap();
    config
}

/// The node plan `up --dry-run` prints with `config` and `extra` flags.
fn plan_with(config: &Path, extra: &[&str]) -> serde_yaml::Value {
    let mut args = vec!["up", "cfg", "--dry-run"];
    args.extend_from_slice(extra);
    let run = kip(&args)
        .env("DOCKER_HOST", NO_ENGINE)
        .env("KIP_CONFIG", config)
        .run();
    run.success();
    serde_yaml::from_str(&run.stdout).unwrap()
}

#[test]
fn the_config_file_sets_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = plan_with(&config_file(dir.path()), &[]);
    assert_eq!(from_file["node"]["image"].as_str(), Some("from-config:1"));
    assert_eq!(
        from_file["node"]["env"]["KIP_NODE_IMAGE"].as_str(),
        Some("kind-from-config:1")
    );
    assert_eq!(
        from_file["node"]["labels"]["dev.kip.ttl"].as_str(),
        Some("3h")
    );
}

#[test]
fn flags_win_over_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let flags = plan_with(
        &config_file(dir.path()),
        &[
            "--dind-image",
            "from-flag:2",
            "--image",
            "kind-from-flag:2",
            "--ttl",
            "10m",
        ],
    );
    assert_eq!(flags["node"]["image"].as_str(), Some("from-flag:2"));
    assert_eq!(
        flags["node"]["env"]["KIP_NODE_IMAGE"].as_str(),
        Some("kind-from-flag:2")
    );
    assert_eq!(flags["node"]["labels"]["dev.kip.ttl"].as_str(), Some("10m"));
}

#[test]
fn the_config_file_is_found_in_xdg_config_home() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("kip")).unwrap();
    std::fs::write(
        dir.path().join("kip/config.yaml"),
        "dindImage: from-xdg:3\n",
    )
    .unwrap();
    let run = kip(&["up", "cfg", "--dry-run"])
        .env("DOCKER_HOST", NO_ENGINE)
        .env("XDG_CONFIG_HOME", dir.path())
        .run();
    run.success().stdout_has("image: from-xdg:3");
}

#[test]
fn an_unknown_config_key_is_a_usage_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "imag: typo\n").unwrap();
    let run = kip(&["up", "cfg", "--dry-run"])
        .env("DOCKER_HOST", NO_ENGINE)
        .env("KIP_CONFIG", &config)
        .run();
    run.code(2)
        .stderr_has("unknown field `imag`")
        .stderr_has(config.to_str().unwrap());
}

/// `kip run`'s CMD is looked up before a cluster is made for it, and a
/// missing or non-executable one exits as a shell would (127, 126), never
/// with kip's usage code 2 that CMD's own exit 2 would be confused with.
#[test]
fn run_of_a_missing_or_non_executable_command_exits_as_a_shell_does() {
    let dir = tempfile::tempdir().unwrap();
    kip(&["run", "--", "kip-no-such-command"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(127)
        .stderr_has("command not found");
    let script = dir.path().join("script.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    kip(&["run", "--", script.to_str().unwrap()])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(126)
        .stderr_has("not executable");
    // A folder is not a command either.
    kip(&["run", "--", dir.path().to_str().unwrap()])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(126);
}

#[test]
fn run_reuse_names_one_cluster() {
    kip(&["run", "--reuse", "--", "true"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(2)
        .stderr_has("--reuse needs a cluster");
    kip(&["run", "--name", "a", "--reuse", "b", "--", "true"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(2)
        .stderr_has("different clusters");
}

/// A kubeconfig whose current context names an API server that does not
/// answer (127.0.0.1:1).
fn silent_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\ncurrent-context: shared\nclusters:\n- name: shared\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: shared\n  context:\n    cluster: shared\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n",
    )
    .unwrap();
    kubeconfig
}

/// A `kip doctor -o json` report, checked against its schema.
fn doctor_json(run: &super::support::Run) -> serde_json::Value {
    let doc = run.json();
    super::schema::assert_valid("doctor-report.schema.json", &doc);
    doc
}

#[test]
fn doctor_follows_remote_mode_to_the_cluster_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "remote: true\n").unwrap();
    let kubeconfig = silent_kubeconfig(dir.path());
    // `remote: true`, KIP_REMOTE=1 and --remote all check the Kubernetes
    // API: one failed check, naming the address, and exit 3 (no Docker asked).
    let doctor = |args: &[&str]| {
        kip(args)
            .env("DOCKER_HOST", NO_ENGINE)
            .kubeconfig(&kubeconfig)
    };
    let remote_by = [
        doctor(&["doctor", "-o", "json"]).env("KIP_CONFIG", &config),
        doctor(&["doctor", "-o", "json"]).env("KIP_REMOTE", "1"),
        doctor(&["doctor", "--remote", "-o", "json"]),
    ];
    for doctor in remote_by {
        let run = doctor.run();
        run.code(3);
        let doc = doctor_json(&run);
        assert_eq!(doc["ok"], false, "{run}");
        let checks = doc["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 1, "{run}");
        assert_eq!(checks[0]["name"], "kubernetes");
        assert_eq!(checks[0]["status"], "fail");
        assert!(
            checks[0]["message"]
                .as_str()
                .unwrap()
                .contains("127.0.0.1:1"),
            "{run}"
        );
        assert!(checks[0]["fix"].as_str().unwrap().contains("--context"));
    }
    // The text report says the same.
    kip(&["doctor", "--remote"])
        .kubeconfig(&kubeconfig)
        .run()
        .code(3)
        .stdout_has("fail  kubernetes")
        .stdout_has("fix: check that https://127.0.0.1:1");
    // No kubeconfig at all: the report still prints, saying so.
    let run = kip(&["doctor", "--remote", "-o", "json"])
        .kubeconfig(&dir.path().join("missing"))
        .run();
    run.code(3);
    assert_eq!(doctor_json(&run)["checks"][0]["name"], "kubernetes");
    // KIP_REMOTE=0 turns the config's remote mode off: the local engine is
    // checked (and does not answer here).
    let run = kip(&["doctor", "-o", "json"])
        .env("DOCKER_HOST", NO_ENGINE)
        .env("KIP_CONFIG", &config)
        .env("KIP_REMOTE", "0")
        .kubeconfig(&kubeconfig)
        .run();
    run.code(3);
    assert_eq!(doctor_json(&run)["checks"][0]["name"], "docker", "{run}");
}

#[test]
fn gc_follows_the_config_into_remote_mode() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "remote: true\n").unwrap();
    let kubeconfig = silent_kubeconfig(dir.path());
    // The Kubernetes API the kubeconfig names is asked, not Docker: by gc,
    // load (which streams into remote nodes too) and run.
    for args in [
        &["gc"][..],
        &["load", "demo", "img"],
        &["run", "--", "true"],
    ] {
        let run = kip(args)
            .env("DOCKER_HOST", NO_ENGINE)
            .env("KIP_CONFIG", &config)
            .env("KIP_STATE_DIR", dir.path().join("state"))
            .kubeconfig(&kubeconfig)
            .run();
        assert_ne!(run.code, 0, "{run}");
        run.stderr_has("Kubernetes API at https://127.0.0.1:1");
    }
}

#[test]
fn down_without_a_name_means_the_default_cluster() {
    // As every other command: no usage error; it goes looking for `kip`.
    kip(&["down"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(3)
        .stderr_has("cannot reach Docker");
}

#[test]
fn down_against_an_unreachable_engine_is_an_environment_failure() {
    kip(&["down", "i11c-a", "i11c-b"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run()
        .code(3)
        .stderr_has(&format!("cannot reach Docker at {NO_ENGINE}"));
}

#[test]
fn dry_run_with_json_output_prints_json() {
    let run = kip(&["up", "i11c-json", "--dry-run", "-o", "json"])
        .env("DOCKER_HOST", NO_ENGINE)
        .run();
    run.success();
    assert_eq!(run.json()["node"]["name"], "kip-i11c-json");
}

#[test]
fn a_config_file_that_kip_config_names_must_exist() {
    let run = kip(&["up", "i11c-cfg", "--dry-run"])
        .env("DOCKER_HOST", NO_ENGINE)
        .env("KIP_CONFIG", "/nonexistent/kip-config.yaml")
        .run();
    run.code(2)
        .stderr_has("KIP_CONFIG names /nonexistent/kip-config.yaml, which does not exist");
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn cert_sans_and_ttls_that_cannot_work_are_usage_errors() {
    for args in [
        &["--cert-san", "a b"][..],
        &["--cert-san", "Bad_Name"],
        &["--cert-san", ""],
        &["--ttl", "0s"],
    ] {
        let mut all = vec!["up", "i11c-bad", "--dry-run"];
        all.extend_from_slice(args);
        let run = kip(&all).env("DOCKER_HOST", NO_ENGINE).run();
        run.code(2);
        assert!(run.stdout.is_empty(), "{args:?}: {run}");
    }
    kip(&["up", "i11c-bad", "--dry-run", "--cert-san", "a b"])
        .run()
        .stderr_has("neither an IP address nor a DNS name");
    kip(&["up", "i11c-bad", "--dry-run"])
        .env("KIP_TTL", "0s")
        .run()
        .code(2)
        .stderr_has("positive duration");
    // Names and addresses kubeadm takes are fine.
    kip(&[
        "up",
        "i11c-ok",
        "--dry-run",
        "--cert-san",
        "*.ci.example.com",
        "--cert-san",
        "fd00::5",
    ])
    .env("DOCKER_HOST", NO_ENGINE)
    .run()
    .success();
}

#[test]
fn a_kind_config_conflict_quotes_the_users_value_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kind.yaml");
    let conflict = |yaml: &str, said: &str| {
        std::fs::write(&config, yaml).unwrap();
        let run = kip(&[
            "up",
            "i11c-kc",
            "--dry-run",
            "--kind-config",
            config.to_str().unwrap(),
        ])
        .env("DOCKER_HOST", NO_ENGINE)
        .run();
        run.code(2).stderr_has(said);
        assert!(
            !run.stderr.contains("String(") && !run.stderr.contains("Number("),
            "{run}"
        );
    };
    conflict(
        "networking:\n  apiServerAddress: 127.0.0.1\n",
        "networking.apiServerAddress is 127.0.0.1:",
    );
    conflict(
        "networking:\n  apiServerPort: 7443\n",
        "networking.apiServerPort is 7443:",
    );
}

#[test]
fn snapshots_refuse_what_remote_mode_lacks_and_bad_names_before_reaching_anything() {
    // Remote mode is built for `up --from` and `snapshot save`: they go on
    // to the cluster (here, none to address).
    for args in [
        &["up", "x", "--from", "base"][..],
        &["snapshot", "save", "demo", "base"],
    ] {
        kip(&[args, &["--remote", "--context", "nowhere"]].concat())
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .run()
            .code(3)
            .stderr_has("kubeconfig");
    }
    kip(&["snapshot", "save", "demo", "x-docker"])
        .run()
        .code(2)
        .stderr_has("node volumes");
    kip(&["up", "x", "--from", "base", "--recreate"])
        .run()
        .code(2);
    kip(&["snapshot", "rm"]).run().code(2);
    // up --from --dry-run, run --from and gc --snapshots: not built
    // remotely, refused before any cluster is asked.
    let remote = ["--remote", "--context", "nowhere"];
    kip(&[&["up", "x", "--from", "base", "--dry-run"][..], &remote].concat())
        .run()
        .code(2)
        .stderr_has("local Docker engine only");
    kip(&[&["run", "--from", "base"][..], &remote, &["--", "true"]].concat())
        .run()
        .code(2)
        .stderr_has("local Docker engine only");
    kip(&[&["gc", "--snapshots", "--older-than", "1h"][..], &remote].concat())
        .run()
        .code(2)
        .stderr_has("local Docker engine only");
    kip(&["run", "--from", "base", "--pool", "p", "--", "true"])
        .run()
        .code(2);
    // An archive that is not there, or not kip's: refused before the engine.
    kip(&["snapshot", "import", "/nonexistent/a.tgz", "x"])
        .run()
        .code(3)
        .stderr_has("cannot be read");
}
