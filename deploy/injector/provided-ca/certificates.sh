#!/usr/bin/env bash
# Writes the injection webhook's TLS files for the provided-ca component, with openssl:
#   ca.crt ca.key    a CA of the webhook's own (ECDSA P-256, 10 years); kept when present, so
#                    the caBundle the API server trusts stays the same across renewals
#   tls.crt tls.key  the serving certificate (1 year) for the webhook Service's DNS names,
#                    <service>.<namespace>.svc and .svc.cluster.local, signed by that CA
# Usage: certificates.sh [DIR [NAMESPACE [SERVICE]]]   (defaults: ., the namespace that
# ../base/kustomization.yaml sets, which is where the webhook's Service is, and the Service's
# name, vidispine-auth-proxy-injector: give it as your namePrefix and nameSuffix make it).
# Run it again to renew the serving certificate. Keep ca.key out of version control: it can
# sign a certificate the API server would send pods to; only ca.crt, tls.crt and tls.key go
# into the Secret.
set -euo pipefail

dir=${1:-.}
base="$(dirname "$0")/../base/kustomization.yaml"
namespace=${2:-$(sed -n 's/^namespace: *//p' "$base" 2>/dev/null)}
namespace=${namespace:-vidispine-auth-proxy}
service=${3:-vidispine-auth-proxy-injector}
ca_days=3650
serving_days=365

command -v openssl >/dev/null || { echo "certificates.sh: openssl is required" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -s ca.crt ] && [ -s ca.key ]; then
  # The new serving certificate must not outlive the CA that signs it.
  if ! openssl x509 -in ca.crt -noout -checkend $((serving_days * 86400)) >/dev/null; then
    echo "certificates.sh: ca.crt expires within $serving_days days; move ca.crt and ca.key away to make a new CA" >&2
    echo "  (the caBundle then changes: webhook calls fail until the new pair is rolled out)" >&2
    exit 1
  fi
  echo "keeping the CA in $dir/ca.crt"
else
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$work/ca.key" -out "$work/ca.crt" -days "$ca_days" \
    -subj "/CN=vidispine-auth-proxy-injector-ca" \
    -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
  mv "$work/ca.key" ca.key
  mv "$work/ca.crt" ca.crt
  echo "made a CA: $dir/ca.crt"
fi

dns="$service.$namespace.svc"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
  -keyout "$work/tls.key" -out "$work/tls.csr" -subj "/CN=$dns" 2>/dev/null
cat >"$work/ext.cnf" <<EXT
subjectAltName=DNS:$dns,DNS:$dns.cluster.local
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
EXT
openssl x509 -req -in "$work/tls.csr" -CA ca.crt -CAkey ca.key \
  -set_serial "0x$(openssl rand -hex 16)" -days "$serving_days" -sha256 \
  -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null
openssl verify -CAfile ca.crt "$work/tls.crt" >/dev/null
# Certificates are public; the Secret's files are read by the kubelet, not from here.
chmod 644 ca.crt "$work/tls.crt"
mv "$work/tls.key" tls.key
mv "$work/tls.crt" tls.crt
echo "issued $dir/tls.crt for $dns and $dns.cluster.local, valid $serving_days days"
