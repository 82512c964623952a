{{/*
The sidecar injection webhook (injector.enabled). Its pods run this chart's image with the
`inject` command and carry their own app.kubernetes.io/name, so the gateway's Service, PDB
and NetworkPolicy never select them. Context: dict "values" .Values "root" $.
*/}}

{{/*
The fullname cut to leave room for "-injector" within a Service name's 63 characters: cut
after the suffix, a long fullname would lose it and name the webhook as the gateway.
*/}}
{{- define "vidispine-auth-proxy.injectorName" -}}
{{- printf "%s-injector" (include "vidispine-auth-proxy.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/*
The MutatingWebhookConfiguration's name: the Service it calls, dot its namespace. It is
cluster-scoped: without the namespace, releases of the same name in two namespaces would
want one object, and Helm would refuse the second.
*/}}
{{- define "vidispine-auth-proxy.injectorWebhookName" -}}
{{- printf "%s.%s" (include "vidispine-auth-proxy.injectorName" .) .root.Release.Namespace -}}
{{- end -}}

{{/*
The webhook's app.kubernetes.io/name: the name and "-injector", cut to a label's 63
characters. A name of 62 or 63 characters would lose the whole suffix and select the
gateway's pods (and the gateway's Services the webhook's): that one is cut before the
suffix instead. Other lengths keep what they had, as a Deployment's selector cannot change.
*/}}
{{- define "vidispine-auth-proxy.injectorAppName" -}}
{{- $name := include "vidispine-auth-proxy.name" . -}}
{{- $cut := printf "%s-injector" $name | trunc 63 | trimSuffix "-" -}}
{{- if eq $cut $name -}}
{{- $cut = printf "%s-injector" ($name | trunc 54 | trimSuffix "-") -}}
{{- end -}}
{{- $cut -}}
{{- end -}}

{{- define "vidispine-auth-proxy.injectorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "vidispine-auth-proxy.injectorAppName" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "vidispine-auth-proxy.injectorLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vidispine-auth-proxy.injectorSelectorLabels" . }}
app.kubernetes.io/component: injector
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/*
The webhook CA's common name: its name, cut to leave room for "-ca" within the 64 bytes a
common name may have (RFC 5280), which cert-manager holds a Certificate to.
*/}}
{{- define "vidispine-auth-proxy.injectorCaCommonName" -}}
{{- printf "%s-ca" (include "vidispine-auth-proxy.injectorName" . | trunc 61 | trimSuffix "-") -}}
{{- end -}}

{{- define "vidispine-auth-proxy.injectorTlsSecret" -}}
{{- printf "%s-tls" (include "vidispine-auth-proxy.injectorName" .) -}}
{{- end -}}

{{/* The names the serving certificate must hold: how the API server reaches the Service. */}}
{{- define "vidispine-auth-proxy.injectorDnsNames" -}}
{{- $svc := include "vidispine-auth-proxy.injectorName" . -}}
{{- $ns := .root.Release.Namespace -}}
{{- toJson (list (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns)) -}}
{{- end -}}

{{/*
The MutatingWebhookConfiguration. Extra context keys: "caBundle" (base64 PEM, for the
chart-generated CA) or "injectFrom" (namespace/Certificate, for cert-manager's cainjector).
Only pods labelled vidispine-auth-proxy/inject=true are ever sent (objectSelector), so
failurePolicy Fail stops exactly the pods that asked for the proxy when the webhook is down.
*/}}
{{- define "vidispine-auth-proxy.injectorWebhook" -}}
{{- $i := .values.injector -}}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: {{ include "vidispine-auth-proxy.injectorWebhookName" . }}
  labels:
    {{- include "vidispine-auth-proxy.injectorLabels" . | nindent 4 }}
  {{- if .injectFrom }}
  annotations:
    cert-manager.io/inject-ca-from: {{ .injectFrom }}
  {{- end }}
webhooks:
  - name: inject.vidispine-auth-proxy.io
    admissionReviewVersions: ["v1"]
    sideEffects: None
    failurePolicy: {{ $i.failurePolicy }}
    timeoutSeconds: {{ $i.timeoutSeconds }}
    reinvocationPolicy: IfNeeded
    matchPolicy: Equivalent
    objectSelector:
      matchLabels:
        vidispine-auth-proxy/inject: "true"
    {{- with $i.namespaceSelector }}
    namespaceSelector:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    rules:
      - apiGroups: [""]
        apiVersions: ["v1"]
        operations: ["CREATE"]
        resources: ["pods"]
        scope: Namespaced
    clientConfig:
      service:
        name: {{ include "vidispine-auth-proxy.injectorName" . }}
        namespace: {{ .root.Release.Namespace }}
        path: /mutate
        port: 443
      {{- with .caBundle }}
      caBundle: {{ . }}
      {{- end }}
{{- end -}}
