{{/*
Values the schema cannot judge alone (they need another value, or a clearer message than a
pattern's): each would render fine and then make the proxy or the webhook exit 2 at start,
or leave a pod that never becomes ready. Each `fail` names the value to change.
*/}}

{{/*
What is wrong with a VidiCore URL value, or nothing: the base URL, never its /API. Context:
dict "path" "url". Only the path is judged (the host of http://api is no /API), as the proxy
judges it: "\\" is "/" in an http URL, "." and ".." segments are resolved, %2e among them, and
%41 is A (a percent-encoded letter is the letter to the server, so …/%41PI mints at
/API/API/…), then trailing slashes count for nothing. Only the escapes of the letters of API
and of "." are decoded: no other can make or unmake a path ending in /API.
*/}}
{{- define "vidispine-auth-proxy.baseUrlProblem" -}}
{{- $url := toString .url -}}
{{- $slashed := replace "\\" "/" $url -}}
{{- $origin := regexFind "^[^:/?#]+://[^/?#]*" $slashed -}}
{{- $path := trimPrefix $origin $slashed -}}
{{- range $letter, $escape := dict "A" "%(41|61)" "P" "%(50|70)" "I" "%(49|69)" "." "%2e" -}}
{{- $path = regexReplaceAll (printf "(?i)%s" $escape) $path $letter -}}
{{- end -}}
{{- $segments := list -}}
{{- range $segment := rest (splitList "/" $path) -}}
{{- if eq $segment ".." -}}
{{- $segments = initial $segments -}}
{{- else if ne $segment "." -}}
{{- $segments = append $segments $segment -}}
{{- end -}}
{{- end -}}
{{- $resolved := regexReplaceAll "/+$" (printf "/%s" (join "/" $segments)) "" -}}
{{- if regexMatch "(?i)/API$" $resolved -}}
{{- printf "%s: %q ends in /API: give the base URL without /API (e.g. %s%s)" .path $url $origin (trimSuffix "/" (regexReplaceAll "(?i)/API$" $resolved "")) -}}
{{- end -}}
{{- end -}}

{{/* Refuses a VidiCore URL value the proxy would refuse (baseUrlProblem). */}}
{{- define "vidispine-auth-proxy.checkBaseUrl" -}}
{{- with include "vidispine-auth-proxy.baseUrlProblem" . -}}
{{- fail . -}}
{{- end -}}
{{- end -}}

{{/* The port of a host:port listen address (the schema checked its form). */}}
{{- define "vidispine-auth-proxy.listenPort" -}}
{{- regexFind "[0-9]+$" (toString .) | int -}}
{{- end -}}

{{/*
The address a listen host binds, as the proxy compares listeners (src/config/listen.ts): an
IPv4 address as the resolver reads it (inet_aton: 127.1, 0x7f000001, 2130706433 and
0177.0.0.1 are all 127.0.0.1), an IPv6 address with its eight groups written out (::1 is
0:0:0:0:0:0:0:1), or, IPv4-mapped, the IPv4 address it binds; one with a zone as written; a
name in lower case. Brackets and port already dropped.
*/}}
{{- define "vidispine-auth-proxy.boundHost" -}}
{{- $host := toString . -}}
{{- $part := "(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)" -}}
{{- if contains "%" $host -}}
{{- /* A zone names an interface, whose case counts: kept as written. */ -}}
{{- $host -}}
{{- else if contains ":" (lower $host) -}}
{{- $host = lower $host -}}
{{- $v4 := regexFind "[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$" $host -}}
{{- if $v4 -}}
{{- $b := splitList "." $v4 | toStrings -}}
{{- $host = printf "%s%x:%x" (trimSuffix $v4 $host) (add (mul (atoi (index $b 0)) 256) (atoi (index $b 1))) (add (mul (atoi (index $b 2)) 256) (atoi (index $b 3))) -}}
{{- end -}}
{{- $halves := splitList "::" $host -}}
{{- $groups := compact (splitList ":" (first $halves)) -}}
{{- if eq (len $halves) 2 -}}
{{- $tail := compact (splitList ":" (last $halves)) -}}
{{- range until (sub 8 (add (len $groups) (len $tail)) | int) -}}
{{- $groups = append $groups "0" -}}
{{- end -}}
{{- $groups = concat $groups $tail -}}
{{- end -}}
{{- $numbers := list -}}
{{- range $groups -}}
{{- $numbers = append $numbers (printf "0x%s" . | int64) -}}
{{- end -}}
{{- if ne (len $numbers) 8 -}}
{{- $host -}}
{{- else if eq (join ":" (slice $numbers 0 6)) "0:0:0:0:0:65535" -}}
{{- $high := index $numbers 6 -}}
{{- $low := index $numbers 7 -}}
{{- printf "%d.%d.%d.%d" (div $high 256) (mod $high 256) (div $low 256) (mod $low 256) -}}
{{- else -}}
{{- $out := list -}}
{{- range $numbers -}}
{{- $out = append $out (printf "%x" .) -}}
{{- end -}}
{{- join ":" $out -}}
{{- end -}}
{{- else if regexMatch (printf "^%s(\\.%s){0,3}$" $part $part) (lower $host) -}}
{{- $host = lower $host -}}
{{- $parts := splitList "." $host -}}
{{- $value := 0 -}}
{{- $fits := true -}}
{{- range $i, $p := $parts -}}
{{- $n := $p | int64 -}}
{{- if lt $i (sub (len $parts) 1 | int) -}}
{{- $fits = and $fits (lt $n 256) -}}
{{- $value = add $value (mul $n (index (list 16777216 65536 256) $i)) -}}
{{- else -}}
{{- $fits = and $fits (lt $n (index (list 4294967296 16777216 65536 256) $i)) -}}
{{- $value = add $value $n -}}
{{- end -}}
{{- end -}}
{{- if $fits -}}
{{- printf "%d.%d.%d.%d" (div $value 16777216) (mod (div $value 65536) 256) (mod (div $value 256) 256) (mod $value 256) -}}
{{- else -}}
{{- $host -}}
{{- end -}}
{{- else -}}
{{- lower $host -}}
{{- end -}}
{{- end -}}

{{/* The bound host (boundHost) of a host:port listen address. */}}
{{- define "vidispine-auth-proxy.listenBoundHost" -}}
{{- include "vidispine-auth-proxy.boundHost" (regexReplaceAll ":[0-9]+$" (toString .) "" | trimPrefix "[" | trimSuffix "]") -}}
{{- end -}}

{{/*
Non-empty when a host:port listen address is on loopback, which only the pod itself reaches:
on 127.0.0.0/8 or ::1 in any of the forms the resolver reads (boundHost), or localhost.
*/}}
{{- define "vidispine-auth-proxy.onLoopback" -}}
{{- $bound := include "vidispine-auth-proxy.listenBoundHost" . -}}
{{- if or (regexMatch "^127\\.[0-9]+\\.[0-9]+\\.[0-9]+$" $bound) (has $bound (list "0:0:0:0:0:0:0:1" "localhost")) -}}
true
{{- end -}}
{{- end -}}

{{/*
The variables whose value is a secret, as a JSON object of each name and where its secret
goes instead of the values (context: dict "values" "path", path the extra list's key).
extraEnv may take them from a Secret (valueFrom), never give their value: the pod spec is
read by more people than the Secret (the view role reads Deployments, not Secrets), and Helm
keeps the values in every release. Without config the chart gives the proxy's own from its
Secret as files (VIDISPINE_PASSWORD_FILE …), so a second source, valueFrom too, would make
the proxy exit 2: the Secret's key is where they go. With config the proxy reads only those
its passwordEnv and secretEnv name, which valueFrom gives.
*/}}
{{- define "vidispine-auth-proxy.secretVariables" -}}
{{- $v := .values -}}
{{- $secrets := dict -}}
{{- $keys := dict "VIDISPINE_PASSWORD" "passwordKey" "VIDISPINE_ACCESS_KEY_SECRET" "accessKeySecretKey" "VIDISPINE_ADMIN_PASSWORD" "adminPasswordKey" "VIDISPINE_ADMIN_ACCESS_KEY_SECRET" "adminAccessKeySecretKey" "VIDISPINE_RUNAS_PASSWORD" "runAsPasswordKey" "VIDISPINE_RUNAS_ACCESS_KEY_SECRET" "runAsAccessKeySecretKey" -}}
{{- range $name, $key := $keys -}}
{{- $where := printf "the chart gives it from the Secret as a file: put it in the Secret under credentials.%s and remove it from %s" $key $.path -}}
{{- if $v.config -}}
{{- $where = "with config the proxy reads it only where a passwordEnv or secretEnv names it: remove it, and give the secret by a passwordFile or secretFile under credentials.mountPath" -}}
{{- end -}}
{{- $_ := set $secrets $name $where -}}
{{- end -}}
{{- if $v.config -}}
{{- range include "vidispine-auth-proxy.credentialHolders" $v.config | fromJsonArray -}}
{{- range list (dig "passwordEnv" "" .) (dig "accessKey" "secretEnv" "" .) -}}
{{- with . -}}
{{- $_ := set $secrets (toString .) "take it from a Secret with valueFrom.secretKeyRef" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $secrets -}}
{{- end -}}

{{/*
Non-empty when two host:port listen addresses cannot both be bound, as the proxy judges them
(listenersCollide in src/config/listen.ts): one port, and one bound host, or either a
wildcard of the other's family (:: takes IPv6 and IPv4, 0.0.0.0 IPv4 alone), or localhost
beside 127.0.0.1 or ::1 (either is what it may bind). Context: list of the two.
*/}}
{{- define "vidispine-auth-proxy.listenersCollide" -}}
{{- $a := index . 0 -}}
{{- $b := index . 1 -}}
{{- if eq (include "vidispine-auth-proxy.listenPort" $a) (include "vidispine-auth-proxy.listenPort" $b) -}}
{{- $ha := include "vidispine-auth-proxy.listenBoundHost" $a -}}
{{- $hb := include "vidispine-auth-proxy.listenBoundHost" $b -}}
{{- $any6 := "0:0:0:0:0:0:0:0" -}}
{{- $apart := or (and (eq $ha "0.0.0.0") (contains ":" $hb) (ne $hb $any6)) (and (eq $hb "0.0.0.0") (contains ":" $ha) (ne $ha $any6)) -}}
{{- $localhost := list "127.0.0.1" "0:0:0:0:0:0:0:1" -}}
{{- if and (not $apart) (or (eq $ha $hb) (has $ha (list "0.0.0.0" $any6)) (has $hb (list "0.0.0.0" $any6)) (and (eq $ha "localhost") (has $hb $localhost)) (and (eq $hb "localhost") (has $ha $localhost))) -}}
true
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A number as the proxy writes it in a message: 30, 2.5, 1000000 (not 1e+06), 3.5000001 (not
3.5). JSON writes a number as JavaScript does, shortest and exponent-free from 1e-6 to 1e21.
*/}}
{{- define "vidispine-auth-proxy.number" -}}
{{- . | float64 | toJson -}}
{{- end -}}

{{/* What the proxy says of a safety margin above half of the lifetime `.` (seconds). */}}
{{- define "vidispine-auth-proxy.aboveHalf" -}}
{{- printf "must be at most half the token lifetime (%s s of %s s)" (include "vidispine-auth-proxy.number" (divf . 2)) (include "vidispine-auth-proxy.number" .) -}}
{{- end -}}

{{/*
What the proxy says of a replay total below the size of one body, or nothing. Context:
dict "each" "total" (integers) and the keys that set them, "eachKey" "totalKey".
*/}}
{{- define "vidispine-auth-proxy.replayProblem" -}}
{{- if and (ne .total 0) (lt .total .each) -}}
{{- printf "%s: %d is below %s (%d), so no body above %d bytes could be held for replay: give at least %d, or lower %s too (0 in either holds none)" .totalKey .total .eachKey .each .total .each .eachKey -}}
{{- end -}}
{{- end -}}

{{/*
In single-user mode, the rules spanning keys that the container's own extraEnv
(sidecar.extraEnv in the sidecar template) can break, as the proxy words them, or nothing: a
TOKEN_SAFETY_MARGIN_SECONDS above half the lifetime (token.seconds, or TOKEN_SECONDS set
there again), PROXY_REPLAY_BUFFER_TOTAL_BYTES below PROXY_REPLAY_BUFFER_BYTES. Only plain
numbers given as values are judged, in decimal as the proxy reads them (0700 is 700): a
variable from a Secret or a ConfigMap, $(NAME) or any other text is the proxy's to read, and
so is every rule that rests on it (a TOKEN_SECONDS from a ConfigMap is not token.seconds).
*/}}
{{- define "vidispine-auth-proxy.envProblem" -}}
{{- $extraEnv := include "vidispine-auth-proxy.own" (merge (dict "key" "extraEnv") .) | fromJson -}}
{{- $secretProblem := include "vidispine-auth-proxy.secretEnvProblem" (dict "values" .values "extraEnv" $extraEnv) -}}
{{- /* Each variable's last entry, as Kubernetes takes it: its number, or "" when only the proxy can read it. */ -}}
{{- $given := dict -}}
{{- range $extraEnv.list -}}
{{- $plain := and (hasKey . "value") (regexMatch "^[0-9]{1,15}(\\.[0-9]+)?$" (toString .value)) -}}
{{- $_ := set $given (toString .name) (ternary (toString .value) "" $plain) -}}
{{- end -}}
{{- $known := dict "TOKEN_SECONDS" .values.token.seconds "PROXY_REPLAY_BUFFER_BYTES" 1048576 "PROXY_REPLAY_BUFFER_TOTAL_BYTES" 16777216 -}}
{{- range $name, $value := $given -}}
{{- $_ := set $known $name $value -}}
{{- end -}}
{{- $seconds := $known.TOKEN_SECONDS -}}
{{- $margin := get $known "TOKEN_SAFETY_MARGIN_SECONDS" -}}
{{- if $secretProblem -}}
{{- $secretProblem -}}
{{- else if and $margin $seconds (gt ($margin | float64) (divf $seconds 2)) -}}
{{- printf "%s TOKEN_SAFETY_MARGIN_SECONDS: %s" $extraEnv.path (include "vidispine-auth-proxy.aboveHalf" $seconds) -}}
{{- if not (hasKey $given "TOKEN_SECONDS") }}; the lifetime is token.seconds{{ end -}}
{{- else if and $known.PROXY_REPLAY_BUFFER_BYTES $known.PROXY_REPLAY_BUFFER_TOTAL_BYTES -}}
{{- /* Through float64: int64 would read a leading 0 as octal. */ -}}
{{- $each := $known.PROXY_REPLAY_BUFFER_BYTES | float64 | int64 -}}
{{- $total := $known.PROXY_REPLAY_BUFFER_TOTAL_BYTES | float64 | int64 -}}
{{- with include "vidispine-auth-proxy.replayProblem" (dict "each" $each "total" $total "eachKey" "PROXY_REPLAY_BUFFER_BYTES" "totalKey" "PROXY_REPLAY_BUFFER_TOTAL_BYTES") -}}
{{- printf "%s %s" $extraEnv.path . -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
In single-user mode, a secret's variable in the container's extraEnv that the proxy would exit
2 on, or that would leave an account unused, whatever its source (valueFrom too; a value written is refused before, as a secret in
the values), as the proxy words it, or nothing: the chart gives the proxy's secrets from its
Secret as files (VIDISPINE_PASSWORD_FILE …), so beside the chart's file the variable is a
second source of the secret; beside the account's credential of the other kind (a password
where the values give an access key, or the reverse), a second credential; the user's own
where an account mints its tokens, what checkCredentials refuses in the values (the proxy
would take it, and the account would mint nothing); otherwise it belongs to no credential
the values set up; and in another case (vidispine_password) it is no variable of the
proxy's, which reads names as written. Context: dict "values" and "extraEnv" (the "own"
list and its path).
*/}}
{{- define "vidispine-auth-proxy.secretEnvProblem" -}}
{{- $v := .values -}}
{{- $path := .extraEnv.path -}}
{{- $secrets := include "vidispine-auth-proxy.secretVariables" (dict "values" $v "path" $path) | fromJson -}}
{{- $c := $v.credentials -}}
{{- $vs := $v.vidispine -}}
{{- /* The _FILE variables the container sets (vidispine-auth-proxy.container, accountEnv). */ -}}
{{- $files := list -}}
{{- if $c.passwordKey }}{{ $files = append $files "VIDISPINE_PASSWORD_FILE" }}{{ end -}}
{{- if $vs.accessKeyId }}{{ $files = append $files "VIDISPINE_ACCESS_KEY_SECRET_FILE" }}{{ end -}}
{{- if $vs.adminUser }}{{ $files = append $files (ternary "VIDISPINE_ADMIN_ACCESS_KEY_SECRET_FILE" "VIDISPINE_ADMIN_PASSWORD_FILE" (not (empty $vs.adminAccessKeyId))) }}{{ end -}}
{{- if $vs.runAsUser }}{{ $files = append $files (ternary "VIDISPINE_RUNAS_ACCESS_KEY_SECRET_FILE" "VIDISPINE_RUNAS_PASSWORD_FILE" (not (empty $vs.runAsAccessKeyId))) }}{{ end -}}
{{- $problem := "" -}}
{{- range .extraEnv.list -}}
{{- $name := toString .name -}}
{{- $file := printf "%s_FILE" $name -}}
{{- if $problem -}}
{{- else if and (hasKey $secrets $name) (has $file $files) -}}
{{- $problem = printf "%s %s: give only one source for the secret, not %s and %s, which the chart sets (the proxy exits 2); %s" $path $name $name $file (get $secrets $name) -}}
{{- else if hasKey $secrets $name -}}
{{- $password := hasSuffix "_PASSWORD" $name -}}
{{- $prefix := ternary (trimSuffix "_PASSWORD" $name) (trimSuffix "_ACCESS_KEY_SECRET" $name) $password -}}
{{- /* The account's credential of the other kind, which the chart sets: the proxy's pair. */ -}}
{{- $other := ternary (printf "%s_ACCESS_KEY_SECRET_FILE" $prefix) (printf "%s_PASSWORD_FILE" $prefix) $password -}}
{{- $account := ternary "vidispine.adminUser" "vidispine.runAsUser" (not (empty $vs.adminUser)) -}}
{{- if has $other $files -}}
{{- $set := ternary (printf "%s_ACCESS_KEY_ID" $prefix) $other $password -}}
{{- $problem = printf "%s %s: give a password or an access key, not both (%s and %s); the chart sets %s from the values (the chart README, \"Credentials\"): remove it from %s" $path $name (ternary $name $other $password) (ternary $set $name $password) $set $path -}}
{{- else if and (eq $prefix "VIDISPINE") (or $vs.adminUser $vs.runAsUser) -}}
{{- /* The proxy takes it (the account then mints nothing); the chart refuses the same in its values (checkCredentials). */ -}}
{{- $problem = printf "%s %s: the user has a credential of its own (%s), which signs its token requests, beside %s, which would mint none of them: the proxy takes both and leaves the account unused; keep one; for tokens minted by the account remove it from %s, for the user's own set %s to \"\" (%s)" $path $name $name $account $path $account (get $secrets $name) -}}
{{- else -}}
{{- $problem = printf "%s %s: the chart sets no %s, as no value sets up the credential it belongs to, and the proxy exits 2 on it: remove it from %s and set up the credential in the values (the chart README, \"Credentials\")" $path $name $file $path -}}
{{- end -}}
{{- else if hasKey $secrets (upper $name) -}}
{{- $problem = printf "%s %s: unknown variable; did you mean %s?; the proxy reads upper-case names only and exits 2 on this one, and %s" $path $name (upper $name) (get $secrets (upper $name)) -}}
{{- end -}}
{{- end -}}
{{- $problem -}}
{{- end -}}

{{/*
The request headers a users[].selectUserHeader cannot be, as JSON: each lower-case name and
why, in the proxy's words (src/config/request-headers.ts). A select header is read as a user
name and never passed on, so one of these would lose the meaning it has, and the proxy exits 2.
*/}}
{{- define "vidispine-auth-proxy.reservedRequestHeaders" -}}
{{- $why := dict -}}
{{- range list "connection" "keep-alive" "proxy-connection" "te" "trailer" "upgrade" "transfer-encoding" -}}
{{- $_ := set $why . "a hop-by-hop header of HTTP" -}}
{{- end -}}
{{- range list "content-length" "expect" "host" -}}
{{- $_ := set $why . "the proxy reads it to frame or route the request and sets its own upstream" -}}
{{- end -}}
{{- range list "authorization" "proxy-authorization" "runas" -}}
{{- $_ := set $why . "a credential header the proxy removes or replaces" -}}
{{- end -}}
{{- $_ := set $why "x-request-id" "the request id the proxy's access log reads and sends on" -}}
{{- range list "cookie" "sec-websocket-key" "sec-websocket-version" "sec-websocket-protocol" "sec-websocket-extensions" -}}
{{- $_ := set $why . "clients send it on their own and the application needs it upstream" -}}
{{- end -}}
{{- toJson $why -}}
{{- end -}}

{{/*
The first rule of the proxy's that spans keys of config (src/config/resolve.ts) the values
break, in the proxy's words with config. before each key, or nothing: the schema judges one
value at a time, and the proxy would exit 2 at start. Context: the container's (values,
sidecar). The ops listener is the one the configuration file will have: config.ops.listen,
or [::]:service.opsPort.
*/}}
{{- define "vidispine-auth-proxy.configProblem" -}}
{{- $config := .values.config -}}
{{- $users := default (list) $config.users -}}
{{- $token := default (dict) $config.token -}}
{{- $problems := list -}}
{{- $vs := default (dict) $config.vidispine -}}
{{- /* Each credential's secret from one source; a variable it names set in the container. */ -}}
{{- $extraEnv := include "vidispine-auth-proxy.own" (merge (dict "key" "extraEnv") .) | fromJson -}}
{{- $variables := list -}}
{{- range $extraEnv.list -}}{{- $variables = append $variables (toString .name) -}}{{- end -}}
{{- $holders := list -}}
{{- range $account := list "admin" "runAs" -}}
{{- with get $vs $account -}}
{{- $holders = append $holders (dict "path" (printf "config.vidispine.%s" $account) "fields" . "account" true) -}}
{{- end -}}
{{- end -}}
{{- range $i, $u := $users -}}
{{- $holders = append $holders (dict "path" (printf "config.users[%d]" $i) "fields" $u) -}}
{{- end -}}
{{- range $holders -}}
{{- $path := .path -}}
{{- $f := .fields -}}
{{- $passwords := list -}}
{{- range $k := list "passwordFile" "passwordEnv" -}}
{{- if hasKey $f $k -}}{{- $passwords = append $passwords (printf "%s.%s" $path $k) -}}{{- end -}}
{{- end -}}
{{- $key := default (dict) $f.accessKey -}}
{{- $secrets := list -}}
{{- range $k := list "secretFile" "secretEnv" -}}
{{- if hasKey $key $k -}}{{- $secrets = append $secrets (printf "%s.accessKey.%s" $path $k) -}}{{- end -}}
{{- end -}}
{{- if and $passwords (hasKey $f "accessKey") -}}
{{- $problems = append $problems (printf "%s: give a password or an access key, not both (%s and %s.accessKey)" (first $passwords) (first $passwords) $path) -}}
{{- else if gt (len (concat $passwords $secrets)) 1 -}}
{{- $given := concat $passwords $secrets -}}
{{- $problems = append $problems (printf "%s: give only one source for the secret, not %s and %s" (index $given 1) (join ", " (initial $given)) (last $given)) -}}
{{- else if and (hasKey $f "accessKey") (not $secrets) -}}
{{- $problems = append $problems (printf "%s.accessKey: give the access key's secret: set %s.accessKey.secretFile or %s.accessKey.secretEnv" $path $path $path) -}}
{{- else if and .account (not $passwords) (not (hasKey $f "accessKey")) -}}
{{- $problems = append $problems (printf "%s: the account %q has no password or access key: set %s.passwordFile, %s.passwordEnv or %s.accessKey" $path (toString $f.username) $path $path $path) -}}
{{- end -}}
{{- range $k := list "passwordEnv" "accessKey.secretEnv" -}}
{{- $name := ternary (get $key "secretEnv") (get $f "passwordEnv") (eq $k "accessKey.secretEnv") -}}
{{- if and $name (not (has (toString $name) $variables)) -}}
{{- $problems = append $problems (printf "%s.%s: environment variable %s is not set; set it in %s (from a Secret, with valueFrom)" $path $k (toString $name) $extraEnv.path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $i, $u := $users -}}
{{- $own := default (dict) $u.token -}}
{{- /* Key by key, the user's own value over the top-level one (merge would take a 0 for none). */ -}}
{{- $merged := dict "seconds" 60 -}}
{{- range $from := list $token $own -}}
{{- range $key := list "seconds" "safetyMarginSeconds" -}}
{{- if hasKey $from $key -}}{{- $_ := set $merged $key (get $from $key) -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $seconds := $merged.seconds -}}
{{- if and (hasKey $merged "safetyMarginSeconds") (gt ($merged.safetyMarginSeconds | float64) (divf $seconds 2)) -}}
{{- $margin := $merged.safetyMarginSeconds -}}
{{- $user := printf "config.users[%d].token" $i -}}
{{- if and (not (hasKey $own "safetyMarginSeconds")) (hasKey $own "seconds") -}}
{{- $problems = append $problems (printf "%s.seconds: must be at least twice config.token.safetyMarginSeconds (%s s), which applies to this user too; or give %s.safetyMarginSeconds" $user (include "vidispine-auth-proxy.number" $margin) $user) -}}
{{- else -}}
{{- $problems = append $problems (printf "%s: %s" (ternary (printf "%s.safetyMarginSeconds" $user) "config.token.safetyMarginSeconds" (hasKey $own "safetyMarginSeconds")) (include "vidispine-auth-proxy.aboveHalf" $seconds)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $proxy := default (dict) $config.proxy -}}
{{- $replay := dict "replayBufferBytes" 1048576 "replayBufferTotalBytes" 16777216 -}}
{{- range $key, $_ := $replay -}}
{{- if hasKey $proxy $key -}}{{- $_ := set $replay $key (get $proxy $key) -}}{{- end -}}
{{- end -}}
{{- $each := $replay.replayBufferBytes | int64 -}}
{{- $total := $replay.replayBufferTotalBytes | int64 -}}
{{- with include "vidispine-auth-proxy.replayProblem" (dict "each" $each "total" $total "eachKey" "config.proxy.replayBufferBytes" "totalKey" "config.proxy.replayBufferTotalBytes") -}}
{{- $problems = append $problems . -}}
{{- end -}}
{{- range $i, $u := $users -}}
{{- range $j, $earlier := $users -}}
{{- if and (lt $j $i) (eq (toString $u.name) (toString $earlier.name)) -}}
{{- $problems = append $problems (printf "config.users[%d].name: %q already used by config.users[%d]" $i (toString $u.name) $j) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $vs.runAs (not $vs.admin) -}}
{{- range $i, $u := $users -}}
{{- if and (not (or (hasKey $u "passwordFile") (hasKey $u "passwordEnv") (hasKey $u "accessKey"))) (not (regexMatch "^[\\x{20}-\\x{7e}\\x{a0}-\\x{ff}]*$" (toString $u.name))) -}}
{{- $problems = append $problems (printf "config.users[%d].name: cannot be sent in a RunAs header (only Latin-1 characters); give this user its own credential" $i) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $listeners := list -}}
{{- range $i, $u := $users -}}
{{- with $u.listen -}}
{{- $listeners = append $listeners (dict "path" (printf "config.users[%d].listen" $i) "listen" (toString .)) -}}
{{- end -}}
{{- end -}}
{{- $opsPort := $.values.service.opsPort -}}
{{- $ops := dig "ops" "listen" (printf "[::]:%v" $opsPort) $config -}}
{{- if and $ops (not (regexMatch "(?i)^off$" (toString $ops))) -}}
{{- $listeners = append $listeners (dict "path" "config.ops.listen" "listen" (toString $ops) "chart" (not (hasKey (default (dict) $config.ops) "listen"))) -}}
{{- end -}}
{{- range $i, $l := $listeners -}}
{{- range $j, $earlier := $listeners -}}
{{- if and (lt $j $i) (include "vidispine-auth-proxy.listenersCollide" (list $earlier.listen $l.listen)) -}}
{{- if $l.chart -}}
{{- /* The ops listener the chart set, which the user never wrote: the port is theirs to move. */ -}}
{{- $problems = append $problems (printf "%s: %q is on service.opsPort (%v), where the ops listener takes every address ([::]:%v): listen on another port, or give service.opsPort another" $earlier.path $earlier.listen $opsPort $opsPort) -}}
{{- else -}}
{{- $problems = append $problems (printf "%s: address already used by %s" $l.path $earlier.path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $selectable := false -}}
{{- range $users -}}
{{- if and .listen .selectUserHeader -}}{{- $selectable = true -}}{{- end -}}
{{- end -}}
{{- range $i, $u := $users -}}
{{- with $u.selectUserHeader -}}
{{- with get (include "vidispine-auth-proxy.reservedRequestHeaders" . | fromJson) (lower (toString .)) -}}
{{- $problems = prepend $problems (printf "config.users[%d].selectUserHeader: cannot be %s: %s, while a select header is read as a user name and never passed on; use a header of its own (e.g. X-Vidispine-User)" $i $u.selectUserHeader .) -}}
{{- end -}}
{{- end -}}
{{- if not $u.listen -}}
{{- if $u.selectUserHeader -}}
{{- $problems = append $problems (printf "config.users[%d].selectUserHeader: needs config.users[%d].listen: the header is read on this user's own listener, and it has none" $i $i) -}}
{{- end -}}
{{- if and $u.allowRunAs (not $selectable) -}}
{{- $problems = append $problems (printf "config.users[%d].allowRunAs: no request can act as this user: give it config.users[%d].listen, or give another user's listener a selectUserHeader that may pick it" $i $i) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with $problems -}}
{{- first . -}}
{{- end -}}
{{- end -}}

{{/*
The proxy's values, for the gateway and the sidecar alike: its URL, at least one user with
a data listener (the proxy exits 2 without either), and its ops listener on service.opsPort
and off loopback, where the kubelet's probes ask (anywhere else fails them, and the kubelet
restarts the proxy forever), apart from the data ports. A sidecar's users listen on loopback
only: on any other address the pod IP would serve every caller as the app's Vidispine user.
The chart sets the listeners and the configuration file itself: the container's extraEnv
(sidecar.extraEnv in the sidecar template) may not set them a second time (the later of two
entries wins, and the probes or the Service miss). extraEnv, extraVolumes and
extraVolumeMounts are the gateway's alone: beside a disabled gateway the sidecar template
refuses them rather than drop them, since they reached the sidecar before its own did.
*/}}
{{- define "vidispine-auth-proxy.checkProxy" -}}
{{- $v := .values -}}
{{- if and .sidecar (not (include "vidispine-auth-proxy.on" (list $v "gateway" "enabled"))) -}}
{{- range $key, $what := dict "extraEnv" "variables" "extraVolumes" "volumes" "extraVolumeMounts" "mounts" -}}
{{- if get $v $key -}}
{{- fail (printf "%s: the gateway's %s, and gateway.enabled is false: the sidecar template takes sidecar.%s; move them there" $key $what $key) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $extra := include "vidispine-auth-proxy.own" (merge (dict "key" "extraEnv") .) | fromJson -}}
{{- $owned := dict "OPS_LISTEN" "service.opsPort" "PROXY_LISTEN" "service.ports (config.users[].listen with config)" "CONFIG_FILE" "config" -}}
{{- $secrets := include "vidispine-auth-proxy.secretVariables" (dict "values" $v "path" $extra.path) | fromJson -}}
{{- range $extra.list -}}
{{- $name := toString .name -}}
{{- with get $owned $name -}}
{{- fail (printf "%s: %s is set by the chart, from %s: remove it from %s and set %s instead" $extra.path $name . $extra.path .) -}}
{{- end -}}
{{- $where := get $secrets $name -}}
{{- if and $where (ne (toString (default "" .value)) "") -}}
{{- fail (printf "%s: %s holds a secret, and its value is written in the values: it would be stored in the pod spec, readable by whoever may read the workload, and in the Helm release; %s" $extra.path $name $where) -}}
{{- end -}}
{{- end -}}
{{- /* A key of its own names a bundle in vidispine.ca: alone it would mount nothing, and the proxy would trust Node's CAs alone. */ -}}
{{- if and $v.vidispine.caKey (ne (toString $v.vidispine.caKey) "ca.crt") (not $v.vidispine.ca) -}}
{{- fail "vidispine.caKey is set without vidispine.ca: set the ConfigMap or Secret holding the CA too, or remove it" -}}
{{- end -}}
{{- if $v.config -}}
{{- if and $v.vidispine.ca (dig "vidispine" "caFile" "" $v.config) -}}
{{- fail "vidispine.ca and config.vidispine.caFile both give the CA bundle for Vidispine: set one (vidispine.ca mounts its ConfigMap or Secret and sets config.vidispine.caFile itself)" -}}
{{- end -}}
{{- $url := dig "vidispine" "url" "" $v.config -}}
{{- if not $url -}}
{{- fail "config.vidispine.url is required: the VidiCore base URL (e.g. http://vidispine:8080); the proxy does not start without it" -}}
{{- end -}}
{{- include "vidispine-auth-proxy.checkBaseUrl" (dict "path" "config.vidispine.url" "url" $url) -}}
{{- $listeners := 0 -}}
{{- range $i, $u := default (list) $v.config.users -}}
{{- with $u.listen -}}
{{- $listeners = add1 $listeners -}}
{{- if and $.sidecar (not (include "vidispine-auth-proxy.onLoopback" .)) -}}
{{- fail (printf "config.users[%d].listen: %q is not on loopback: a sidecar serves its own pod only, and on the pod IP anyone who reaches the pod would act as this Vidispine user; listen on 127.0.0.1:<port>" $i .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if eq $listeners 0 -}}
{{- fail "config.users: no user has a listen address, and the proxy does not start without a data listener: give at least one user listen (e.g. [::]:8080 on a port in service.ports; 127.0.0.1:8080 in a sidecar)" -}}
{{- end -}}
{{- with include "vidispine-auth-proxy.configProblem" . -}}
{{- fail . -}}
{{- end -}}
{{- with dig "ops" "listen" "" $v.config -}}
{{- if ne (include "vidispine-auth-proxy.listenPort" .) (toString $v.service.opsPort) -}}
{{- fail (printf "config.ops.listen: %q is not on service.opsPort (%v), where the probes ask: leave config.ops.listen out or use port %v" . $v.service.opsPort $v.service.opsPort) -}}
{{- end -}}
{{- if include "vidispine-auth-proxy.onLoopback" . -}}
{{- fail (printf "config.ops.listen: %q is on loopback, and the kubelet probes the pod IP: leave config.ops.listen out or use [::]:%v" . $v.service.opsPort) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- include "vidispine-auth-proxy.checkBaseUrl" (dict "path" "vidispine.url" "url" $v.vidispine.url) -}}
{{- with include "vidispine-auth-proxy.envProblem" . -}}
{{- fail . -}}
{{- end -}}
{{- end -}}
{{- range $v.service.ports -}}
{{- if eq (toString .port) (toString $v.service.opsPort) -}}
{{- fail (printf "service.opsPort: %v is also the data port %q in service.ports: give the ops listener a port of its own" $v.service.opsPort (toString .name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The gateway's values: its pods keep the selector labels (podLabels may not replace them, or
the Deployment's selector no longer matches its own pods), its autoscaler a minimum not above
its maximum; its data ports each have a name and a number of their own, apart from the ops
port's proxy-ops (Kubernetes refuses a container or Service that repeats either); the
Service exposes only service.ports, off loopback, so a user
listening anywhere else is unreachable; and the pod must outlive the proxy's shutdown (delay, then drain), or
the kubelet kills it mid-drain. The proxy's defaults are 5 s and 30 s; in single-user mode
extraEnv may set them (SHUTDOWN_DELAY_SECONDS, SHUTDOWN_DRAIN_SECONDS).
*/}}
{{- define "vidispine-auth-proxy.checkGateway" -}}
{{- $v := .values -}}
{{- range $key := list "app.kubernetes.io/name" "app.kubernetes.io/instance" -}}
{{- if hasKey (default (dict) $v.podLabels) $key -}}
{{- fail (printf "podLabels: %s is a label the chart sets and selects the gateway's pods by (the Deployment, Service, PDB and NetworkPolicy): remove it from podLabels" $key) -}}
{{- end -}}
{{- end -}}
{{- if and (include "vidispine-auth-proxy.on" (list $v "autoscaling" "enabled")) (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "autoscaling.minReplicas (%v) is above autoscaling.maxReplicas (%v), which Kubernetes refuses: lower minReplicas or raise maxReplicas" $v.autoscaling.minReplicas $v.autoscaling.maxReplicas) -}}
{{- end -}}
{{- /* The container's and the Service's ports: each name and number once, proxy-ops the ops port's. */ -}}
{{- range $i, $p := $v.service.ports -}}
{{- if eq (toString $p.name) "proxy-ops" -}}
{{- fail (printf "service.ports[%d].name: %q is the name of the ops port (service.opsPort): give the data port another name" $i (toString $p.name)) -}}
{{- end -}}
{{- range $j, $q := $v.service.ports -}}
{{- if lt $j $i -}}
{{- if eq (toString $p.name) (toString $q.name) -}}
{{- fail (printf "service.ports[%d].name: %q is also the name of service.ports[%d]: give each data port a name of its own" $i (toString $p.name) $j) -}}
{{- end -}}
{{- if eq (toString $p.port) (toString $q.port) -}}
{{- fail (printf "service.ports[%d].port: %v is also the port of service.ports[%d] (%q): give each data port a number of its own" $i $p.port $j (toString $q.name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $delay := dict "name" "SHUTDOWN_DELAY_SECONDS" "value" 5 -}}
{{- $drain := dict "name" "SHUTDOWN_DRAIN_SECONDS" "value" 30 -}}
{{- if $v.config -}}
{{- $ports := list -}}
{{- range $v.service.ports -}}
{{- $ports = append $ports (toString .port) -}}
{{- end -}}
{{- range $i, $u := default (list) $v.config.users -}}
{{- with $u.listen -}}
{{- if not (has (include "vidispine-auth-proxy.listenPort" .) $ports) -}}
{{- fail (printf "config.users[%d].listen: port of %q is not in service.ports (%s): add it there, or listen on one of them" $i . (join ", " $ports)) -}}
{{- end -}}
{{- if include "vidispine-auth-proxy.onLoopback" . -}}
{{- fail (printf "config.users[%d].listen: %q is on loopback, which the Service cannot reach: listen on [::]:%s" $i . (include "vidispine-auth-proxy.listenPort" .)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $delay = dict "name" "config.shutdown.delaySeconds" "value" (dig "shutdown" "delaySeconds" 5 $v.config) -}}
{{- $drain = dict "name" "config.shutdown.drainSeconds" "value" (dig "shutdown" "drainSeconds" 30 $v.config) -}}
{{- else -}}
{{- range $v.extraEnv -}}
{{- if and (eq .name "SHUTDOWN_DELAY_SECONDS") (hasKey . "value") -}}
{{- $_ := set $delay "value" .value -}}
{{- else if and (eq .name "SHUTDOWN_DRAIN_SECONDS") (hasKey . "value") -}}
{{- $_ := set $drain "value" .value -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if ge (addf $delay.value $drain.value) ($v.terminationGracePeriodSeconds | float64) -}}
{{- fail (printf "%s (%v) + %s (%v) is not below terminationGracePeriodSeconds (%v): the pod would be killed mid-drain; raise terminationGracePeriodSeconds or shorten the drain" $delay.name $delay.value $drain.name $drain.value $v.terminationGracePeriodSeconds) -}}
{{- end -}}
{{- end -}}

{{/* The gateway PDB's bound: minAvailable when given, otherwise maxUnavailable. */}}
{{- define "vidispine-auth-proxy.disruptionBudgetField" -}}
{{- ternary "maxUnavailable" "minAvailable" (kindIs "invalid" .minAvailable) -}}
{{- end -}}

{{/*
The gateway's PodDisruptionBudget must leave a node drain a pod to evict even at the fewest
replicas (replicaCount, or autoscaling.minReplicas): otherwise every drain of a node running
one blocks until someone deletes the pod by hand. Kubernetes's arithmetic: integers as
given, percentages of the replicas rounded up.
*/}}
{{- define "vidispine-auth-proxy.checkDisruptionBudget" -}}
{{- $v := .values -}}
{{- $field := include "vidispine-auth-proxy.disruptionBudgetField" $v.podDisruptionBudget -}}
{{- $given := index $v.podDisruptionBudget $field -}}
{{- if kindIs "invalid" $given -}}
{{- fail "podDisruptionBudget: set maxUnavailable (or minAvailable), or enabled: false" -}}
{{- end -}}
{{- $fewest := dict "name" "replicaCount" "value" $v.replicaCount -}}
{{- if include "vidispine-auth-proxy.on" (list $v "autoscaling" "enabled") -}}
{{- $fewest = dict "name" "autoscaling.minReplicas" "value" $v.autoscaling.minReplicas -}}
{{- end -}}
{{- $n := $fewest.value | float64 -}}
{{- $count := toString $given | float64 -}}
{{- if hasSuffix "%" (toString $given) -}}
{{- $count = ceil (divf (mulf (trimSuffix "%" (toString $given) | float64) $n) 100) -}}
{{- end -}}
{{- $evictable := ternary (subf $n $count) (minf $count $n) (eq $field "minAvailable") -}}
{{- if and (gt $n 0.0) (le $evictable 0.0) -}}
{{- $hint := ternary (printf "leave it unset (maxUnavailable: 1, the default), lower it, or raise %s" $fewest.name) "give 1 or more" (eq $field "minAvailable") -}}
{{- fail (printf "podDisruptionBudget.%s: %v lets a node drain evict no gateway pod at %s %v, so every drain of a node running one blocks: %s" $field $given $fewest.name $fewest.value $hint) -}}
{{- end -}}
{{- end -}}

{{/*
A resource quantity in base units (cores, bytes), for comparing a request with its limit:
Kubernetes's forms (a signed number, digits. and .digits included, and a binary, decimal or
exponent suffix), as the schema takes them; empty for any other. An exponent is a float's
own, read whole. As resource.ParseQuantity reads them, a number without digits (+, -, .) is
zero, and any other at least 1n, however far below a float it goes (1e-400 is 1n).
*/}}
{{- define "vidispine-auth-proxy.quantity" -}}
{{- $q := toString . -}}
{{- $number := "^[+-]?[0-9]*(\\.[0-9]*)?" -}}
{{- if and $q (regexMatch (printf "%s([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$" $number) $q) -}}
{{- $suffix := regexReplaceAll $number $q "" -}}
{{- if not (regexMatch "[1-9]" (trimSuffix $suffix $q)) -}}
{{- 0.0 -}}
{{- else if regexMatch "^[eE]." $suffix -}}
{{- maxf ($q | float64) 1e-9 -}}
{{- else -}}
{{- $scale := get (dict "" 1 "n" 1e-9 "u" 1e-6 "m" 0.001 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "Pi" 1125899906842624 "Ei" 1152921504606846976) $suffix -}}
{{- maxf (mulf (trimSuffix $suffix $q | float64) $scale) 1e-9 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A container's requests within its limits: Kubernetes refuses a pod with a request above
its limit, and the webhook such defaults at start. Context: dict "resources" (the rendered
requests and limits), "path" (the value they come from) and, optional, "from" (by
"requests.cpu" etc., the value a quantity comes from instead). Forms the chart does not
compare are left to Kubernetes.
*/}}
{{- define "vidispine-auth-proxy.checkResources" -}}
{{- $from := default (dict) .from -}}
{{- $r := default (dict) .resources -}}
{{- range $resource := list "cpu" "memory" -}}
{{- $request := include "vidispine-auth-proxy.quantity" (dig "requests" $resource "" $r) -}}
{{- $limit := include "vidispine-auth-proxy.quantity" (dig "limits" $resource "" $r) -}}
{{- if and $request $limit (gt ($request | float64) ($limit | float64)) -}}
{{- $requestPath := get $from (printf "requests.%s" $resource) | default $.path -}}
{{- $limitPath := get $from (printf "limits.%s" $resource) | default $.path -}}
{{- fail (printf "%s.requests.%s: %v is above the %s limit %v (%s.limits.%s): lower the request or raise the limit" $requestPath $resource (dig "requests" $resource "" $r) $resource (dig "limits" $resource "" $r) $limitPath $resource) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The injected proxy's requests and limits, as JSON: sidecar.resources, each quantity given
in injector.sidecar.resources in its place; "from" names where each one comes from.
*/}}
{{- define "vidispine-auth-proxy.injectedResources" -}}
{{- /* A map removed with null is none: every quantity from the other, or none at all;
sidecar: null too. */ -}}
{{- $own := (default (dict) .values.injector.sidecar).resources | default (dict) -}}
{{- $shared := (default (dict) .values.sidecar).resources | default (dict) -}}
{{- $resources := dict "requests" (dict) "limits" (dict) -}}
{{- $from := dict -}}
{{- range $kind := list "requests" "limits" -}}
{{- range $resource := list "cpu" "memory" -}}
{{- $path := "sidecar.resources" -}}
{{- $value := dig $kind $resource "" $shared -}}
{{- if hasKey (get $own $kind | default (dict)) $resource -}}
{{- $path = "injector.sidecar.resources" -}}
{{- $value = index $own $kind $resource -}}
{{- end -}}
{{- $_ := set (get $resources $kind) $resource (toString $value) -}}
{{- $_ := set $from (printf "%s.%s" $kind $resource) $path -}}
{{- end -}}
{{- end -}}
{{- toJson (dict "resources" $resources "from" $from) -}}
{{- end -}}

{{/*
A Go duration (what cert-manager takes: 360h, 1h30m) in whole seconds: sprig parses one
only to move a date by it.
*/}}
{{- define "vidispine-auth-proxy.durationSeconds" -}}
{{- $zero := toDate "2006-01-02" "2000-01-01" -}}
{{- sub ($zero | mustDateModify (toString .) | unixEpoch | atoi) ($zero | unixEpoch | atoi) -}}
{{- end -}}

{{/*
The webhook's cert-manager Certificate renewed before VidispineAuthProxyWebhookCertificateExpiring
warns (under 14 days, for 10 minutes), with an hour for the issuer and the kubelet's update of
the mounted Secret: renewed later, the warning fires before every renewal. And a duration longer
than renewBefore, as cert-manager's own validation requires.
*/}}
{{- define "vidispine-auth-proxy.checkRenewal" -}}
{{- /* Only durations the schema takes: with its check skipped, others are cert-manager's to refuse. */ -}}
{{- $form := "^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$" -}}
{{- if and (regexMatch $form (toString .renewBefore)) (regexMatch $form (toString .duration)) -}}
{{- $least := mul 337 3600 -}}
{{- $renewBefore := include "vidispine-auth-proxy.durationSeconds" .renewBefore | atoi -}}
{{- $duration := include "vidispine-auth-proxy.durationSeconds" .duration | atoi -}}
{{- if lt $renewBefore $least -}}
{{- fail (printf "injector.tls.certManager.renewBefore: %q renews the webhook's certificate less than 14 days before it expires, where VidispineAuthProxyWebhookCertificateExpiring warns, so the warning would fire before every renewal: give at least 337h (14 days and an hour for the renewed pair to reach the webhook), e.g. 360h" (toString .renewBefore)) -}}
{{- end -}}
{{- if le $duration $renewBefore -}}
{{- fail (printf "injector.tls.certManager.duration: %q is not longer than renewBefore (%q), which cert-manager refuses: give a longer duration (e.g. 2160h) or a shorter renewBefore, at least 337h" (toString .duration) (toString .renewBefore)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The webhook's values: its pods keep the selector labels (injector.podLabels may not replace
them), its ops port beside its HTTPS port (and both off the node's kubelet port on the
node's network), the injected proxy's URL, and
requests within limits, its own and the injected proxy's (the webhook refuses a default
request above its limit, since Kubernetes would refuse every pod given it).
*/}}
{{- define "vidispine-auth-proxy.checkInjector" -}}
{{- $i := .values.injector -}}
{{- range $key := list "app.kubernetes.io/name" "app.kubernetes.io/instance" -}}
{{- if hasKey (default (dict) $i.podLabels) $key -}}
{{- fail (printf "injector.podLabels: %s is a label the chart sets and selects the webhook's pods by (the Deployment, Service and PDB): remove it from injector.podLabels" $key) -}}
{{- end -}}
{{- end -}}
{{- if eq (toString $i.opsPort) (toString $i.port) -}}
{{- fail (printf "injector.opsPort: %v is also injector.port, the webhook's HTTPS port: give each a port of its own" $i.opsPort) -}}
{{- end -}}
{{- if and $i.hostNetwork (eq (toString $i.port) "10250") -}}
{{- fail "injector.port: 10250 is the kubelet's port on every node, which injector.hostNetwork would share: choose another (10250 serves GKE private clusters only off the node's network)" -}}
{{- end -}}
{{- if and $i.hostNetwork (eq (toString $i.opsPort) "10250") -}}
{{- fail "injector.opsPort: 10250 is the kubelet's port on every node, which injector.hostNetwork would share: choose another" -}}
{{- end -}}
{{- if include "vidispine-auth-proxy.on" (list $i.tls "certManager" "enabled") -}}
{{- include "vidispine-auth-proxy.checkRenewal" $i.tls.certManager -}}
{{- end -}}
{{- /* injector.sidecar: null (Helm's way to drop a map of defaults) is none of them. */ -}}
{{- $sidecar := default (dict) $i.sidecar -}}
{{- /* The webhook refuses a CA's key without the CA too (SIDECAR_VIDISPINE_CA_KEY alone): say so here, not in its crash loop. */ -}}
{{- if and $sidecar.vidispineCaKey (not $sidecar.vidispineCa) -}}
{{- fail "injector.sidecar.vidispineCaKey is set without injector.sidecar.vidispineCa: set the ConfigMap or Secret holding the CA too, or remove it" -}}
{{- end -}}
{{- include "vidispine-auth-proxy.checkBaseUrl" (dict "path" "injector.sidecar.vidispineUrl" "url" $sidecar.vidispineUrl) -}}
{{- include "vidispine-auth-proxy.checkResources" (merge (dict "path" "injector.sidecar.resources") (include "vidispine-auth-proxy.injectedResources" . | fromJson)) -}}
{{- include "vidispine-auth-proxy.checkResources" (dict "path" "injector.resources" "resources" $i.resources) -}}
{{- end -}}

{{/*
Whether a switch is on: (list VALUES "key" … "enabled"), "true" or "". Helm deletes a key
set to null with every default under it, so a map removed with null (networkPolicy: null)
takes its switch with it: the feature is off, as there are no defaults left to build it from.
*/}}
{{- define "vidispine-auth-proxy.on" -}}
{{- $m := first . -}}
{{- range rest . }}{{ $m = index (default (dict) $m) . }}{{ end -}}
{{- if $m }}true{{ end -}}
{{- end -}}

{{/*
Maps set to null that no switch turns off and that the chart cannot do without: refused,
naming the key and what to write, where the templates would stop at a nil pointer or render
a NetworkPolicy peer with no selector. Every template that reads them includes this first
(the same context as the template; "sidecar" true from the sidecar templates), so whichever
Helm renders first says the same.
*/}}
{{- define "vidispine-auth-proxy.checkNulls" -}}
{{- $v := .values -}}
{{- $needed := list -}}
{{- $gateway := include "vidispine-auth-proxy.on" (list $v "gateway" "enabled") -}}
{{- if or .sidecar $gateway -}}
{{- $needed = concat $needed (list
  (list $v "image" "" "its image: remove the null and set image.repository (image.tag, image.digest and image.pullPolicy keep the chart's defaults)")
  (list $v "probes" "" "the timings of its probes: remove the null to keep the chart's, or set probes.startup, probes.readiness and probes.liveness")
  (list $v "service" "" "its ports: remove the null to keep the chart's (8080, ops 9090), or set service.ports and service.opsPort")
  (list $v "vidispine" "" "vidispine.url (and vidispine.user in single-user mode): remove the null to keep the chart's, or set them")
  (list $v "token" "" "token.seconds and token.autoRefresh: remove the null to keep the chart's (60, false), or set them")
  (list $v "credentials" "" "credentials.existingSecret, its keys and mountPath: remove the null to keep the chart's, or set them")) -}}
{{- range $probe := list "startup" "readiness" "liveness" -}}
{{- $needed = append $needed (list $v.probes $probe "probes." (printf "its %s probe's timings: remove the null to keep the chart's, or set probes.%s.periodSeconds, timeoutSeconds and failureThreshold" $probe $probe)) -}}
{{- end -}}
{{- end -}}
{{- if and $gateway (include "vidispine-auth-proxy.on" (list $v "networkPolicy" "enabled")) -}}
{{- $np := $v.networkPolicy -}}
{{- $needed = concat $needed (list
  (list $np "vidispine" "networkPolicy." "where Vidispine is, or the proxy reaches none: remove the null to keep the chart's, or set networkPolicy.vidispine.to and networkPolicy.vidispine.port (or networkPolicy.enabled: false)")
  (list $np "clientPodSelector" "networkPolicy." "the pods allowed to reach the data ports: --set networkPolicy.clientPodSelector.matchLabels=null allows every pod of the namespace (matchLabels: null under it; {} is merged with the chart's selector and keeps it), or write a selector (or networkPolicy.enabled: false)")
  (list $np "metricsNamespaceSelector" "networkPolicy." "the namespaces allowed to reach the ops port: --set networkPolicy.metricsNamespaceSelector.matchLabels=null allows every namespace (matchLabels: null under it; {} is merged with the chart's selector and keeps it), or write a selector (or networkPolicy.enabled: false)")) -}}
{{- end -}}
{{- if include "vidispine-auth-proxy.on" (list $v "injector" "enabled") -}}
{{- $needed = concat $needed (list
  (list $v "image" "" "its image: remove the null and set image.repository (image.tag, image.digest and image.pullPolicy keep the chart's defaults)")
  (list $v.injector "tls" "injector." "its serving certificate: remove the null to keep the chart's, or set injector.tls.generated.validityDays (or injector.tls.certManager.enabled: true)")) -}}
{{- if and $v.injector.tls (not (include "vidispine-auth-proxy.on" (list $v.injector.tls "certManager" "enabled"))) -}}
{{- $needed = append $needed (list $v.injector.tls "generated" "injector.tls." "the validity of the certificates it generates: remove the null to keep the chart's (3650 days), or set injector.tls.generated.validityDays (or injector.tls.certManager.enabled: true)") -}}
{{- end -}}
{{- end -}}
{{- range $needed -}}
{{- $parent := index . 0 -}}
{{- $key := index . 1 -}}
{{- if and (kindIs "map" $parent) (kindIs "invalid" (index $parent $key)) -}}
{{- fail (printf "%s%s is null, and Helm deletes a key set to null with every default under it, where the chart needs %s" (index . 2) $key (index . 3)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
