"""The one place the control-plane versions are pinned."""

KUBERNETES = "v1.37.2"
"""k8s.io/kubernetes release whose kube-apiserver the tests run."""

STAGING = "v0." + KUBERNETES.removeprefix("v1.")
"""The matching k8s.io/* staging module version (v1.37.2 -> v0.37.2)."""

ETCD = "v3.7.3"
"""go.etcd.io/etcd/server/v3 release."""

GO_DIRECTIVE = "1.26.0"
"""The `go` line of the generated modules; k8s.io/kubernetes v1.37 needs Go 1.26."""

HELM = "v3.22.0"
"""helm.sh/helm/v3 release the chart tests lint and render with (`build.build_helm`)."""
