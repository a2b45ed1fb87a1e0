//! The planning simulation of bench/kube_scale.sh at full size — 6 projects x 10 features x
//! 18 services against the in-memory API server — held to what makes it scale: every plan asks
//! the same number of requests whatever the instance's size or the cluster's, a converged
//! cluster plans to nothing, a changed definition plans exactly its changes, and planning never
//! writes. (Timings are the benchmark's business, not a test's.)

use envctl::backend::kubernetes::fake_api::scale::{simulate, Scale};

#[tokio::test(flavor = "current_thread")]
async fn sixty_instances_of_eighteen_services_plan_with_constant_requests() {
    let scale = Scale {
        definition: "environments/project-a.yaml",
        projects: 6,
        features: 10,
        change: &[("provider_version", "1.0.1")],
    };
    let report = simulate(&scale).await.unwrap();
    assert_eq!(report.services_per_instance, 18);
    let [first, converged, changed] = &report.rounds[..] else {
        panic!("three rounds: {report:#?}");
    };
    for round in [first, converged, changed] {
        assert_eq!(round.instances, 60, "{round:#?}");
        assert_eq!(round.writes, 0, "planning wrote: {round:#?}");
    }
    // Against an empty cluster: the namespace, and the cluster's Services for node ports.
    assert_eq!(first.requests_per_plan, vec![2], "{first:#?}");
    // Against 60 instances' objects: the namespace and one LIST per kind (node ports kept:
    // the cluster's Services are not read).
    assert_eq!(converged.requests_per_plan, vec![7], "{converged:#?}");
    assert_eq!(converged.actions_total, 0, "{converged:#?}");
    // Twelve providers changed in each instance: twelve dry-runs and twelve applies each.
    assert_eq!(changed.dry_runs, 60 * 12, "{changed:#?}");
    assert_eq!(changed.actions_total, 60 * 12, "{changed:#?}");
    assert_eq!(changed.requests_per_plan, vec![7 + 12], "{changed:#?}");
    // Every object of every instance is in the cluster the later rounds planned against.
    assert!(report.objects_in_cluster > 60 * 18 * 2, "{report:#?}");
}
