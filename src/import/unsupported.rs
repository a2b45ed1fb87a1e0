//! What to do instead, for each Compose service key envctl has no equivalent for.

/// Keys Compose has that envctl has no equivalent for, with what to do instead.
pub fn no_equivalent(key: &str) -> &'static str {
    match key {
        "working_dir" => "set the directory in the image (WORKDIR) or wrap the command: `sh -c 'cd DIR && ...'`",
        "user" => "set USER in the image, or start the command with a tool that drops privileges",
        "tmpfs" => "use a named volume for the path",
        "extra_hosts" => "give the target service an alias, or put the address in an env value",
        "secrets" | "configs" => "mount the file with a bind volume, or pass it with `env: {X: {from_file: PATH}}`",
        "labels" => "envctl labels containers itself; keep tool labels in the image",
        "logging" => "envctl leaves logging to the engine's default; read logs with `envctl logs`",
        "ulimits" | "sysctls" | "cap_add" | "cap_drop" | "security_opt" | "devices" | "shm_size" => "set it in the image or entrypoint; envctl does not pass kernel options",
        "stdin_open" | "tty" => "use `envctl exec -it` for interactive use",
        "init" => "add an init (tini) to the image's entrypoint",
        "stop_signal" | "stop_grace_period" => "handle SIGTERM in the process; envctl stops containers with the engine's defaults",
        "scale" => "write one service per copy",
        "dns" | "dns_search" | "dns_opt" => "services reach each other by name on the instance network; put other addresses in env values",
        "volumes_from" => "mount the same named volume in both services",
        "platform" => "build or pull the image for this machine's platform",
        "expose" => "nothing: services reach every port of each other on the instance network",
        "domainname" | "mac_address" | "ipc" | "uts" | "cgroup_parent" | "isolation" | "userns_mode" | "runtime" | "oom_score_adj" | "oom_kill_disable" | "mem_reservation" | "memswap_limit" | "mem_swappiness" | "cpu_shares" | "cpuset" | "cpu_quota" | "cpu_period" | "blkio_config" | "group_add" | "storage_opt" | "pids_limit" | "attach" | "annotations" | "develop" | "post_start" | "pre_stop" | "models" | "provider" | "gpus" | "use_api_socket" | "credential_spec" | "device_cgroup_rules" | "external_links" => "set it outside envctl (image, engine configuration) if it matters for tests",
        _ => "envctl has no such setting; see docs/import.md",
    }
}
