//! Issue 19 against the real engine: a symlink swapped in after the definition was checked is
//! refused, not mounted. A job with a read-write bind of a directory under the definition's
//! directory replaces a subdirectory with a symlink out of the tree; the dependent service
//! that binds that subdirectory starts only after the job completed, and must fail.

use crate::support;
use support::Instance;

use support::{text, BUSYBOX};

#[test]
fn a_symlink_swapped_in_by_a_job_is_refused_before_the_dependent_starts() {
    let definition = format!(
        r#"services:
  swap:
    kind: job
    image: {BUSYBOX}
    command: ["sh", "-c", "rm -rf /data/x && ln -s {outside} /data/x"]
    volumes: ["./data:/data"]
  reader:
    image: {BUSYBOX}
    command: ["sh", "-c", "ls /x; exec sleep 3600"]
    volumes: ["./data/x:/x:ro"]
    depends_on: {{ swap: completed }}
"#,
        outside = "/"
    );
    let fx = Instance::new("sec", &definition);
    let data = fx.dir.path().join("environments").join("data");
    std::fs::create_dir_all(data.join("x")).unwrap();
    std::fs::write(data.join("x").join("inside.txt"), "ok").unwrap();

    let out = fx.envctl(&["up", &fx.env]);
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert!(
        !out.status.success(),
        "up must fail; stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("refused to mount"), "{all}");
    assert!(all.contains("now leads to /"), "{all}");
    assert!(
        std::fs::symlink_metadata(data.join("x"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the job did swap the directory"
    );

    // The dependent was created early (before the swap) but never started.
    let state = support::docker_stdout(&[
        "inspect",
        "--format",
        "{{.State.Status}}",
        &format!("{}-reader", fx.env),
    ]);
    // Not created at all would be fine too.
    if let Ok(state) = state {
        assert_ne!(state.trim(), "running", "the reader must not run");
    }

    // And a later `up` refuses it again instead of starting the created container.
    let again = fx.envctl(&["up", &fx.env]);
    assert!(!again.status.success(), "{}", text(&again.stderr));
    let all = format!("{}{}", text(&again.stdout), text(&again.stderr));
    assert!(
        all.contains("leads to") || all.contains("outside the definition's directory"),
        "{all}"
    );
}
