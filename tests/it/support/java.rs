//! The stand-in for a team's Dubbo jar (tests/fixtures/dubbo-java/Reporter.java): no Dubbo jar
//! can be fetched on these machines, so the dubbo-java template is tested with a small program
//! compiled here by Debian's JDK (`javac` and `jar` from openjdk-17-jdk-headless, which
//! scripts/test.sh installs). It reports the properties, environment and heap its JVM got.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// The stand-in's source.
fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dubbo-java/Reporter.java")
}

/// The stand-in as an executable jar, compiled on first use and cached under the target
/// directory, keyed by a hash of its source (a changed source is compiled again).
pub fn reporter_jar() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(jar) = built.as_ref() {
        return jar.clone();
    }
    let text = std::fs::read(source()).expect("the stand-in's source");
    let key = hex::encode(&Sha256::digest(&text)[..6]);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dubbo-java");
    let jar = dir.join(format!("reporter-{key}.jar"));
    if !jar.is_file() {
        std::fs::create_dir_all(&dir).unwrap();
        // Built beside the final name and renamed: another test process may read it meanwhile.
        let work = tempfile::tempdir_in(&dir).unwrap();
        let classes = work.path().join("classes");
        run(Command::new("javac")
            .args(["--release", "17", "-d"])
            .arg(&classes)
            .arg(source()));
        let manifest = work.path().join("manifest.txt");
        std::fs::write(&manifest, "Main-Class: Reporter\n").unwrap();
        let part = work.path().join("reporter.jar");
        run(Command::new("jar")
            .arg("cfm")
            .arg(&part)
            .arg(&manifest)
            .arg("-C")
            .arg(&classes)
            .arg("."));
        std::fs::rename(&part, &jar).unwrap();
    }
    *built = Some(jar.clone());
    jar
}

#[track_caller]
fn run(command: &mut Command) {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command.output().unwrap_or_else(|e| {
        panic!("{program}: {e} (install openjdk-17-jdk-headless; scripts/test.sh does)")
    });
    super::assert_ok(&out);
}
