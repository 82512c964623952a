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
{{- $sa := default (dict) .values.serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "vidispine-auth-proxy.fullname" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
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

{{/*
The YAML configuration, with the ops listener defaulted to the port the probes use and, with
vidispine.ca, the CA file where the chart mounts it (the file is the whole configuration:
VIDISPINE_CA_FILE would be ignored). Without the gateway it is the sidecar's (a gateway's
users listen off loopback, a sidecar's on it, so one file never serves both), whose
shutdown.delaySeconds defaults to 0: Kubernetes stops a native sidecar once the app's
containers have exited, and no one is left to send it requests.
*/}}
{{- define "vidispine-auth-proxy.configYaml" -}}
{{- $chart := dict "ops" (dict "listen" (printf "[::]:%v" .values.service.opsPort)) -}}
{{- if not (include "vidispine-auth-proxy.on" (list .values "gateway" "enabled")) -}}
{{- $_ := set $chart "shutdown" (dict "delaySeconds" 0) -}}
{{- end -}}
{{- with .values.vidispine.ca -}}
{{- $_ := set $chart "vidispine" (dict "caFile" (include "vidispine-auth-proxy.caFile" $.values)) -}}
{{- end -}}
{{- toYaml (merge (deepCopy (default (dict) .values.config)) $chart) -}}
{{- end -}}

{{/*
The name of the configuration file in the container, under /etc/vidispine-auth-proxy: the
ConfigMap's config.yaml. In the sidecar template it is named after the file's hash: the
proxy reads the file once, the app's chart renders the pod template and cannot hash the
ConfigMap into it as the gateway's does (checksum/config), and a changed name there is what
makes `helm upgrade` roll the app's pods onto a changed configuration.
*/}}
{{- define "vidispine-auth-proxy.configFileName" -}}
{{- if .sidecar -}}
{{- printf "config-%s.yaml" (include "vidispine-auth-proxy.configYaml" . | sha256sum | trunc 16) -}}
{{- else -}}
config.yaml
{{- end -}}
{{- end -}}

{{/* Where the chart mounts the ConfigMap or Secret of vidispine.ca. */}}
{{- define "vidispine-auth-proxy.caDir" -}}
/etc/vidispine-auth-proxy-ca
{{- end -}}

{{/* Where the proxy reads the CA bundle of vidispine.ca, in that mount. */}}
{{- define "vidispine-auth-proxy.caFile" -}}
{{- printf "%s/%s" (include "vidispine-auth-proxy.caDir" .) .vidispine.caKey -}}
{{- end -}}

{{/*
The Secret keys the configuration reads, space-separated: in single-user mode the keys of
the user's own credential and of the account that mints for it; with `config`, the files
under credentials.mountPath that its passwordFile and accessKey.secretFile entries name.
*/}}
{{- define "vidispine-auth-proxy.secretKeys" -}}
{{- $v := .values -}}
{{- $keys := list -}}
{{- if $v.config -}}
{{- $prefix := printf "%s/" $v.credentials.mountPath -}}
{{- range include "vidispine-auth-proxy.credentialHolders" $v.config | fromJsonArray -}}
{{- range list .passwordFile (dig "secretFile" "" (default (dict) .accessKey)) -}}
{{- if and . (hasPrefix $prefix .) -}}
{{- $keys = append $keys (trimPrefix $prefix .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $c := $v.credentials -}}
{{- $vs := $v.vidispine -}}
{{- if $c.passwordKey -}}
{{- $keys = append $keys $c.passwordKey -}}
{{- end -}}
{{- if $vs.accessKeyId -}}
{{- $keys = append $keys $c.accessKeySecretKey -}}
{{- end -}}
{{- if $vs.adminUser -}}
{{- $keys = append $keys (ternary $c.adminAccessKeySecretKey $c.adminPasswordKey (not (empty $vs.adminAccessKeyId))) -}}
{{- end -}}
{{- if $vs.runAsUser -}}
{{- $keys = append $keys (ternary $c.runAsAccessKeySecretKey $c.runAsPasswordKey (not (empty $vs.runAsAccessKeyId))) -}}
{{- end -}}
{{- end -}}
{{- join " " $keys -}}
{{- end -}}

{{/*
Refuses values that give a user no credential or more than one, naming the values to
change. The proxy would exit 2 at start on most of them, and the app's pod would never
start; not on a user's own credential (single-user mode) beside vidispine.adminUser or
vidispine.runAsUser: it signs the user's token requests with its own and never uses the
account, so half of what the values set up would do nothing, its Secret key mounted for
no use (the message says the proxy takes it).
*/}}
{{- define "vidispine-auth-proxy.checkCredentials" -}}
{{- with include "vidispine-auth-proxy.credentialsProblem" . -}}
{{- fail . -}}
{{- end -}}
{{- end -}}

{{/* What checkCredentials refuses, or nothing. */}}
{{- define "vidispine-auth-proxy.credentialsProblem" -}}
{{- $v := .values -}}
{{- $problem := "" -}}
{{- if $v.config -}}
{{- $vs := default (dict) $v.config.vidispine -}}
{{- if and $vs.admin $vs.runAs -}}
{{- $problem = "config.vidispine.admin and config.vidispine.runAs are both set: one account mints for the users without a credential of their own; keep one" -}}
{{- end -}}
{{- range $i, $u := default (list) $v.config.users -}}
{{- if not $problem -}}
{{- $given := list -}}
{{- range $k := list "passwordFile" "passwordEnv" "accessKey" -}}
{{- if hasKey $u $k -}}
{{- $given = append $given $k -}}
{{- end -}}
{{- end -}}
{{- if gt (len $given) 1 -}}
{{- $problem = printf "config.users[%d] (%q) has more than one credential (%s): a user has one; keep one" $i (toString $u.name) (join ", " $given) -}}
{{- else if and (eq (len $given) 0) (not (or $vs.admin $vs.runAs)) -}}
{{- $problem = printf "config.users[%d] (%q) has no credential: set its passwordFile, passwordEnv or accessKey, or config.vidispine.admin or config.vidispine.runAs to mint its tokens" $i (toString $u.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $c := $v.credentials -}}
{{- $vs := $v.vidispine -}}
{{- $own := or $c.passwordKey $vs.accessKeyId -}}
{{- $account := or $vs.adminUser $vs.runAsUser -}}
{{- if and $c.passwordKey $vs.accessKeyId -}}
{{- $problem = printf "vidispine.accessKeyId and credentials.passwordKey (%q) are both set: a user has one credential; set credentials.passwordKey to \"\" to use the access key" $c.passwordKey -}}
{{- else if and $vs.adminUser $vs.runAsUser -}}
{{- $problem = "vidispine.adminUser and vidispine.runAsUser are both set: one account mints the user's tokens; keep one" -}}
{{- else if and $vs.adminAccessKeyId (not $vs.adminUser) -}}
{{- $problem = "vidispine.adminAccessKeyId is set without vidispine.adminUser: set the administrator's name too" -}}
{{- else if and $vs.runAsAccessKeyId (not $vs.runAsUser) -}}
{{- $problem = "vidispine.runAsAccessKeyId is set without vidispine.runAsUser: set the RunAs account's name too" -}}
{{- else if and $own $account -}}
{{- $problem = printf "the user has a credential of its own (%s), which signs its token requests, beside %s, which would mint none of them: the proxy takes both and leaves the account unused; keep one; for tokens minted by the account set credentials.passwordKey and vidispine.accessKeyId to \"\"" (ternary "vidispine.accessKeyId" (printf "credentials.passwordKey %q" (toString $c.passwordKey)) (not (empty $vs.accessKeyId))) (ternary "vidispine.adminUser" "vidispine.runAsUser" (not (empty $vs.adminUser))) -}}
{{- else if not (or $own $account) -}}
{{- $problem = "the user has no credential: set credentials.passwordKey (a password), vidispine.accessKeyId (an access key), or vidispine.adminUser or vidispine.runAsUser (an account that mints its tokens)" -}}
{{- end -}}
{{- end -}}
{{- $problem -}}
{{- end -}}

{{/* The accounts of a YAML configuration (context: config) that may hold a credential:
vidispine.admin, vidispine.runAs and each user, as a JSON list. */}}
{{- define "vidispine-auth-proxy.credentialHolders" -}}
{{- $vs := default (dict) .vidispine -}}
{{- toJson (concat (compact (list $vs.admin $vs.runAs)) (default (list) .users)) -}}
{{- end -}}

{{/* Non-empty when the credential Secret must be mounted. */}}
{{- define "vidispine-auth-proxy.needsSecret" -}}
{{- include "vidispine-auth-proxy.secretKeys" . -}}
{{- end -}}

{{/*
An env value the process reads as written. Kubernetes expands $(NAME) in env values from
the variables before it and turns $$ into $, so a user named a$$b would reach the proxy as
a$b; every $ doubled is read back as one. extraEnv and sidecar.extraEnv are left as written,
expansion and all.
*/}}
{{- define "vidispine-auth-proxy.envValue" -}}
{{- toString . | replace "$" "$$" | quote -}}
{{- end -}}

{{/*
The container's own extra list, "key" extraEnv, extraVolumes or extraVolumeMounts: the value
of that name for the gateway, sidecar.<key> for the sidecar template (one value for both
gave every app pod the gateway's shutdown delay or heap size, and its volumes and mounts).
As JSON {"path": the value's name, "list": the list}, for the templates and their checks.
*/}}
{{- define "vidispine-auth-proxy.own" -}}
{{- if .sidecar -}}
{{- toJson (dict "path" (printf "sidecar.%s" .key) "list" (default (list) (get (default (dict) .values.sidecar) .key))) -}}
{{- else -}}
{{- toJson (dict "path" .key "list" (default (list) (get .values .key))) -}}
{{- end -}}
{{- end -}}

{{/*
An account that mints for the user (VIDISPINE_ADMIN, VIDISPINE_RUNAS): its name, and its
password file or its access key's ID and secret file. Context: dict "prefix" "user"
"accessKeyId" "passwordKey" "accessKeySecretKey" "mountPath".
*/}}
{{- define "vidispine-auth-proxy.accountEnv" -}}
- name: {{ .prefix }}_USER
  value: {{ include "vidispine-auth-proxy.envValue" .user }}
{{- if .accessKeyId }}
- name: {{ .prefix }}_ACCESS_KEY_ID
  value: {{ include "vidispine-auth-proxy.envValue" .accessKeyId }}
- name: {{ .prefix }}_ACCESS_KEY_SECRET_FILE
  value: {{ include "vidispine-auth-proxy.envValue" (printf "%s/%s" .mountPath .accessKeySecretKey) }}
{{- else }}
- name: {{ .prefix }}_PASSWORD_FILE
  value: {{ include "vidispine-auth-proxy.envValue" (printf "%s/%s" .mountPath .passwordKey) }}
{{- end }}
{{- end -}}

{{/*
The proxy container. Extra context keys: "listenHost" ([::] for the gateway: every address,
IPv6 and IPv4; 127.0.0.1 for a sidecar) and "sidecar" (true: native sidecar, restartPolicy Always, and
sidecar.resources instead of the gateway's resources).
*/}}
{{- define "vidispine-auth-proxy.container" -}}
{{- include "vidispine-auth-proxy.checkNulls" . -}}
{{- include "vidispine-auth-proxy.checkCredentials" . -}}
{{- include "vidispine-auth-proxy.checkProxy" . -}}
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
      value: {{ printf "/etc/vidispine-auth-proxy/%s" (include "vidispine-auth-proxy.configFileName" .) | quote }}
    {{- else }}
    - name: VIDISPINE_URL
      value: {{ include "vidispine-auth-proxy.envValue" (required "vidispine.url is required" $v.vidispine.url) }}
    {{- if $v.vidispine.ca }}
    - name: VIDISPINE_CA_FILE
      value: {{ include "vidispine-auth-proxy.envValue" (include "vidispine-auth-proxy.caFile" $v) }}
    {{- end }}
    - name: VIDISPINE_USER
      value: {{ include "vidispine-auth-proxy.envValue" (required "vidispine.user is required" $v.vidispine.user) }}
    {{- $c := $v.credentials }}
    {{- if $c.passwordKey }}
    - name: VIDISPINE_PASSWORD_FILE
      value: {{ include "vidispine-auth-proxy.envValue" (printf "%s/%s" $c.mountPath $c.passwordKey) }}
    {{- end }}
    {{- with $v.vidispine.accessKeyId }}
    - name: VIDISPINE_ACCESS_KEY_ID
      value: {{ include "vidispine-auth-proxy.envValue" . }}
    - name: VIDISPINE_ACCESS_KEY_SECRET_FILE
      value: {{ include "vidispine-auth-proxy.envValue" (printf "%s/%s" $c.mountPath $c.accessKeySecretKey) }}
    {{- end }}
    {{- if $v.vidispine.adminUser }}
    {{- include "vidispine-auth-proxy.accountEnv" (dict "prefix" "VIDISPINE_ADMIN" "user" $v.vidispine.adminUser "accessKeyId" $v.vidispine.adminAccessKeyId "passwordKey" $c.adminPasswordKey "accessKeySecretKey" $c.adminAccessKeySecretKey "mountPath" $c.mountPath) | nindent 4 }}
    {{- end }}
    {{- if $v.vidispine.runAsUser }}
    {{- include "vidispine-auth-proxy.accountEnv" (dict "prefix" "VIDISPINE_RUNAS" "user" $v.vidispine.runAsUser "accessKeyId" $v.vidispine.runAsAccessKeyId "passwordKey" $c.runAsPasswordKey "accessKeySecretKey" $c.runAsAccessKeySecretKey "mountPath" $c.mountPath) | nindent 4 }}
    {{- end }}
    - name: PROXY_LISTEN
      value: {{ include "vidispine-auth-proxy.envValue" (printf "%s:%v" .listenHost $dataPort) }}
    - name: OPS_LISTEN
      value: {{ include "vidispine-auth-proxy.envValue" (printf "[::]:%v" $v.service.opsPort) }}
    {{- /* A values file's number is a float, printed 1e+06 from a million up: digits. */}}
    - name: TOKEN_SECONDS
      value: {{ include "vidispine-auth-proxy.envValue" ($v.token.seconds | int64) }}
    - name: TOKEN_AUTO_REFRESH
      value: {{ include "vidispine-auth-proxy.envValue" $v.token.autoRefresh }}
    - name: LOG_LEVEL
      value: {{ include "vidispine-auth-proxy.envValue" $v.logLevel }}
    {{- if .sidecar }}
    {{- /* Stopped after the app's containers: no one is left to send it requests. */}}
    - name: SHUTDOWN_DELAY_SECONDS
      value: "0"
    {{- end }}
    {{- end }}
    {{- with (include "vidispine-auth-proxy.own" (merge (dict "key" "extraEnv") .) | fromJson).list }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumeMounts:
    {{- if include "vidispine-auth-proxy.needsSecret" . }}
    - name: vidispine-auth-proxy-credentials
      mountPath: {{ $v.credentials.mountPath | quote }}
      readOnly: true
    {{- end }}
    {{- if $v.vidispine.ca }}
    - name: vidispine-auth-proxy-ca
      mountPath: {{ include "vidispine-auth-proxy.caDir" . }}
      readOnly: true
    {{- end }}
    {{- if $v.config }}
    - name: vidispine-auth-proxy-config
      mountPath: /etc/vidispine-auth-proxy
      readOnly: true
    {{- end }}
    {{- with (include "vidispine-auth-proxy.own" (merge (dict "key" "extraVolumeMounts") .) | fromJson).list }}
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
  {{- /* A sidecar has its own defaults (sidecar.resources), the webhook's; sidecar: null
  (Helm's way to drop a map of defaults) is none of them, as sidecar.resources: null is. */}}
  {{- $resources := dict "path" "resources" "resources" $v.resources }}
  {{- if .sidecar }}{{ $resources = dict "path" "sidecar.resources" "resources" (default (dict) $v.sidecar).resources }}{{ end }}
  {{- include "vidispine-auth-proxy.checkResources" $resources }}
  {{- with include "vidispine-auth-proxy.givenResources" $resources.resources | fromJson }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
Resources as a container takes them, as JSON: without the quantities given as "" (none, as
values.schema.json says), which Kubernetes would refuse, nor requests or limits left empty.
*/}}
{{- define "vidispine-auth-proxy.givenResources" -}}
{{- $out := dict -}}
{{- range $field, $value := . -}}
{{- if and (has $field (list "requests" "limits")) (kindIs "map" $value) -}}
{{- $given := dict -}}
{{- range $resource, $quantity := $value -}}
{{- if ne (toString $quantity) "" -}}{{- $_ := set $given $resource $quantity -}}{{- end -}}
{{- end -}}
{{- with $given -}}{{- $_ := set $out $field . -}}{{- end -}}
{{- else -}}
{{- $_ := set $out $field $value -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
The pod volumes the container above mounts, plus extraVolumes (sidecar.extraVolumes with
"sidecar" true, for the sidecar template).
*/}}
{{- define "vidispine-auth-proxy.volumes" -}}
{{- include "vidispine-auth-proxy.checkNulls" . -}}
{{- if include "vidispine-auth-proxy.needsSecret" . }}
- name: vidispine-auth-proxy-credentials
  secret:
    secretName: {{ include "vidispine-auth-proxy.secretName" . | quote }}
    defaultMode: 292
{{- end }}
{{- with .values.vidispine.ca }}
{{- $source := splitn "/" 2 . }}
- name: vidispine-auth-proxy-ca
  {{- if eq $source._0 "configmap" }}
  configMap:
    name: {{ $source._1 | quote }}
  {{- else }}
  secret:
    secretName: {{ $source._1 | quote }}
  {{- end }}
    defaultMode: 292
{{- end }}
{{- if .values.config }}
- name: vidispine-auth-proxy-config
  configMap:
    name: {{ include "vidispine-auth-proxy.configMapName" . }}
    {{- if .sidecar }}
    items:
      - key: config.yaml
        path: {{ include "vidispine-auth-proxy.configFileName" . }}
    {{- end }}
{{- end }}
{{- with (include "vidispine-auth-proxy.own" (merge (dict "key" "extraVolumes") .) | fromJson).list }}
{{ toYaml . }}
{{- end }}
{{- end -}}
