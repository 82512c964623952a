{{/*
Public templates for an application chart that lists this chart as a dependency:

  initContainers:
    {{- include "vidispine-auth-proxy.sidecar" (dict "values" (index .Values "vidispine-auth-proxy") "root" .) | nindent 8 }}
  volumes:
    {{- include "vidispine-auth-proxy.sidecarVolumes" (dict "values" (index .Values "vidispine-auth-proxy") "root" .) | nindent 8 }}

The proxy runs as a native sidecar (Kubernetes >= 1.29): an init container with
restartPolicy Always, whose startupProbe holds the app's containers back until the first
token is held. Its data listener is 127.0.0.1:<service.ports[0].port>. Set gateway.enabled
false in the dependency's values unless a gateway is wanted as well. Full example:
helm/examples/app-with-sidecar.
*/}}
{{- define "vidispine-auth-proxy.sidecar" -}}
{{- include "vidispine-auth-proxy.container" (merge (dict "listenHost" "127.0.0.1" "sidecar" true) .) -}}
{{- end -}}

{{- define "vidispine-auth-proxy.sidecarVolumes" -}}
{{- include "vidispine-auth-proxy.volumes" (merge (dict "sidecar" true) .) | trim -}}
{{- end -}}
