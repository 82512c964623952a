{{/*
Most helpers take a context `dict "values" <this chart's values> "root" <the calling
template's root>`, not `.`: an application chart that depends on this chart calls the
sidecar templates with its own root and `(index .Values "vidispine-auth-proxy")`, and
every name must come out the same as when this chart renders itself.
*/}}

{{/* Chart name, from values (not .Chart, which is the caller's when included). */}}
{{- define "vidispine-auth-proxy.name" -}}
{{- default "vidispine-auth-proxy" .values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vidispine-auth-proxy.fullname" -}}
{{- if .values.fullnameOverride -}}
{{- .values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "vidispine-auth-proxy.name" . -}}
{{- if contains $name .root.Release.Name -}}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .root.Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vidispine-auth-proxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vidispine-auth-proxy.name" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "vidispine-auth-proxy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vidispine-auth-proxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{- define "vidispine-auth-proxy.serviceAccountName" -}}
{{- if .values.serviceAccount.create -}}
{{- default (include "vidispine-auth-proxy.fullname" .) .values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vidispine-auth-proxy.secretName" -}}
{{- default (printf "%s-credentials" (include "vidispine-auth-proxy.fullname" .)) .values.credentials.existingSecret -}}
{{- end -}}

{{- define "vidispine-auth-proxy.configMapName" -}}
{{- printf "%s-config" (include "vidispine-auth-proxy.fullname" .) -}}
{{- end -}}

{{- define "vidispine-auth-proxy.image" -}}
{{- $repository := required "image.repository is required: the repository you pushed the image to (README \"Deploy on Kubernetes\"), e.g. --set image.repository=registry.example.com/vidispine-auth-proxy" .values.image.repository -}}
{{- $tag := default .root.Chart.AppVersion .values.image.tag -}}
{{- if .values.image.digest -}}
{{- printf "%s@%s" $repository .values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/* The YAML configuration, with the ops listener defaulted to the port the probes use. */}}
{{- define "vidispine-auth-proxy.configYaml" -}}
{{- $ops := dict "ops" (dict "listen" (printf "0.0.0.0:%v" .values.service.opsPort)) -}}
{{- toYaml (merge (deepCopy .values.config) $ops) -}}
{{- end -}}

{{/* The Secret keys the configuration reads, space-separated. */}}
{{- define "vidispine-auth-proxy.secretKeys" -}}
{{- $v := .values -}}
{{- $keys := list -}}
{{- if $v.config -}}
{{- $prefix := printf "%s/" $v.credentials.mountPath -}}
{{- $holders := prepend (default (list) $v.config.users) (default (dict) (dig "vidispine" "admin" (dict) $v.config)) -}}
{{- range $holders -}}
{{- if and .passwordFile (hasPrefix $prefix .passwordFile) -}}
{{- $keys = append $keys (trimPrefix $prefix .passwordFile) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- if $v.credentials.passwordKey -}}
{{- $keys = append $keys $v.credentials.passwordKey -}}
{{- end -}}
{{- if $v.vidispine.adminUser -}}
{{- $keys = append $keys $v.credentials.adminPasswordKey -}}
{{- end -}}
{{- end -}}
{{- join " " $keys -}}
{{- end -}}

{{/* Non-empty when the credential Secret must be mounted. */}}
{{- define "vidispine-auth-proxy.needsSecret" -}}
{{- include "vidispine-auth-proxy.secretKeys" . -}}
{{- end -}}

{{/*
The proxy container. Extra context keys: "listenHost" (0.0.0.0 for the gateway,
127.0.0.1 for a sidecar) and "sidecar" (true: native sidecar, restartPolicy Always).
*/}}
{{- define "vidispine-auth-proxy.container" -}}
{{- $v := .values -}}
{{- $dataPort := (index $v.service.ports 0).port -}}
- name: vidispine-auth-proxy
  image: {{ include "vidispine-auth-proxy.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if .sidecar }}
  restartPolicy: Always
  {{- end }}
  args: ["run"]
  ports:
    {{- if not .sidecar }}
    {{- range $v.service.ports }}
    - name: {{ .name }}
      containerPort: {{ .port }}
      protocol: TCP
    {{- end }}
    {{- end }}
    - name: proxy-ops
      containerPort: {{ $v.service.opsPort }}
      protocol: TCP
  env:
    {{- if $v.config }}
    - name: CONFIG_FILE
      value: /etc/vidispine-auth-proxy/config.yaml
    {{- else }}
    - name: VIDISPINE_URL
      value: {{ required "vidispine.url is required" $v.vidispine.url | quote }}
    - name: VIDISPINE_USER
      value: {{ required "vidispine.user is required" $v.vidispine.user | quote }}
    {{- if $v.credentials.passwordKey }}
    - name: VIDISPINE_PASSWORD_FILE
      value: {{ printf "%s/%s" $v.credentials.mountPath $v.credentials.passwordKey | quote }}
    {{- end }}
    {{- if $v.vidispine.adminUser }}
    - name: VIDISPINE_ADMIN_USER
      value: {{ $v.vidispine.adminUser | quote }}
    - name: VIDISPINE_ADMIN_PASSWORD_FILE
      value: {{ printf "%s/%s" $v.credentials.mountPath $v.credentials.adminPasswordKey | quote }}
    {{- end }}
    - name: PROXY_LISTEN
      value: {{ printf "%s:%v" .listenHost $dataPort | quote }}
    - name: OPS_LISTEN
      value: {{ printf "0.0.0.0:%v" $v.service.opsPort | quote }}
    - name: TOKEN_SECONDS
      value: {{ $v.token.seconds | quote }}
    - name: TOKEN_AUTO_REFRESH
      value: {{ $v.token.autoRefresh | quote }}
    - name: LOG_LEVEL
      value: {{ $v.logLevel | quote }}
    {{- end }}
    {{- with $v.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumeMounts:
    {{- if include "vidispine-auth-proxy.needsSecret" . }}
    - name: vidispine-auth-proxy-credentials
      mountPath: {{ $v.credentials.mountPath }}
      readOnly: true
    {{- end }}
    {{- if $v.config }}
    - name: vidispine-auth-proxy-config
      mountPath: /etc/vidispine-auth-proxy
      readOnly: true
    {{- end }}
    {{- with $v.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  startupProbe:
    httpGet:
      path: /startupz
      port: proxy-ops
    {{- toYaml $v.probes.startup | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: proxy-ops
    {{- toYaml $v.probes.readiness | nindent 4 }}
  livenessProbe:
    httpGet:
      path: /livez
      port: proxy-ops
    {{- toYaml $v.probes.liveness | nindent 4 }}
  {{- with $v.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* The pod volumes the container above mounts (plus extraVolumes). */}}
{{- define "vidispine-auth-proxy.volumes" -}}
{{- if include "vidispine-auth-proxy.needsSecret" . }}
- name: vidispine-auth-proxy-credentials
  secret:
    secretName: {{ include "vidispine-auth-proxy.secretName" . }}
    defaultMode: 292
{{- end }}
{{- if .values.config }}
- name: vidispine-auth-proxy-config
  configMap:
    name: {{ include "vidispine-auth-proxy.configMapName" . }}
{{- end }}
{{- with .values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}
