#!/bin/sh
# A throwaway cluster for one CI job: create it, use it, always delete it.
# Run by kip's own test suite against its test stack.
#
#   CLUSTER=ci-$$ examples/ci-smoke.sh
set -eu

cluster=${CLUSTER:-ci-$$}
# A private kubeconfig: the job never touches the runner's own.
KUBECONFIG=$(mktemp)
export KUBECONFIG
trap 'kip down "$cluster"; rm -f "$KUBECONFIG"' EXIT INT TERM

kip up "$cluster" --wait 5m
kubectl get --raw /readyz
echo
kubectl version
