import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { isSecretKey, redactSecrets, redactValue } from '../../src/ops/logger';
import { REDACTED } from '../../src/visible-text';
import { rawExchange } from '../support/net';
import { captureLogs } from '../support/ops';

describe('redactSecrets', () => {
  it.each([
    ['Authorization: token VSID-9f8e7d6c5b4a', 'Authorization: [REDACTED]'],
    [
      'sent {"authorization":"Basic YWRtaW46czNjcjN0"} upstream',
      'sent {"authorization":"[REDACTED]"} upstream',
    ],
    ['header token 5a9c1e77-0b3d-4c2e', 'header token [REDACTED]'],
    ['Basic YWRtaW46czNjcjN0 rejected', 'Basic [REDACTED] rejected'],
    // A short Basic credential, neither long nor with a digit: its base64 reads as `user:pass`.
    ['tried Basic dXNlcjpwYXNz', 'tried Basic [REDACTED]'],
    ['basic YWI6Y2Q=, refused', 'basic [REDACTED], refused'],
    ['Basic YTpi', 'Basic [REDACTED]'],
    // At a sentence's end, its full stop is no part of it.
    ['refused Basic dXNlcjpwYXNz. Retrying', 'refused Basic [REDACTED]. Retrying'],
    ['refused "Basic YTpi."', 'refused "Basic [REDACTED]."'],
    // Prose, and a challenge's parameters, are no credential.
    ['Basic auth failed: Basic realm="VidiCore"', 'Basic auth failed: Basic realm="VidiCore"'],
    ['basic settings kept', 'basic settings kept'],
    ['Bearer abcdefghijklmnopqrstu', 'Bearer [REDACTED]'],
    [
      'GET http://admin:pa55w0rd@vidispine:8080/API/token failed',
      'GET http://admin:[REDACTED]@vidispine:8080/API/token failed',
    ],
    ['/API/item?token=VSID-1234&p=1', '/API/item?token=[REDACTED]&p=1'],
    ['/API/item;password=hunter22;x=1', '/API/item;password=[REDACTED];x=1'],
    ['/API/x?foo=1&access_key=AKIA1234#frag', '/API/x?foo=1&access_key=[REDACTED]#frag'],
    // A fragment's parameters too (Node's parser keeps a `#…` a client sends).
    ['/API/item?x=1#access_token=ab12cd', '/API/item?x=1#access_token=[REDACTED]'],
    ['/API/item#token=ab12cd&p=1', '/API/item#token=[REDACTED]&p=1'],
    [
      '/APInoauth/upload?passkey=SIGNEDSECRET123&hash=HASHSECRET&size=9',
      '/APInoauth/upload?passkey=[REDACTED]&hash=[REDACTED]&size=9',
    ],
    ['/APInoauth/x;Hash=ab12cd;PassKey=zz99', '/APInoauth/x;Hash=[REDACTED];PassKey=[REDACTED]'],
    // A matrix parameter's value ends with its path segment; the rest of the path stays.
    ['/API/item;token=ab12cd/metadata?p=1', '/API/item;token=[REDACTED]/metadata?p=1'],
    [
      '/API/item;password=hunter22/metadata?passkey=K1&x=1',
      '/API/item;password=[REDACTED]/metadata?passkey=[REDACTED]&x=1',
    ],
    // In a query, / and ? belong to a value: all of it goes, up to the next parameter.
    ['/API/x?token=ab/cd?ef&y=1', '/API/x?token=[REDACTED]&y=1'],
    ['/API/x?a=1;token=ab/cd&y=2', '/API/x?a=1;token=[REDACTED]&y=2'],
    // A request's Cookie header holds cookies joined by `; `: all of them go. A Set-Cookie
    // header holds one, its attributes after the `;` kept.
    ['cookie: lang=en; JSESSIONID=abc123', 'cookie: [REDACTED]'],
    [
      'sent {"Cookie":"lang=en; vsid=Secret-cookie","x":1} upstream',
      'sent {"Cookie":"[REDACTED]","x":1} upstream',
    ],
    ['Set-Cookie: JSESSIONID=abc123; Path=/; HttpOnly', 'Set-Cookie: [REDACTED]; Path=/; HttpOnly'],
    // A cookie's value may be quoted (RFC 6265, section 4.1.1): the cookies after it go too,
    // its quotes escaped as JSON writes them included.
    ['Cookie: lang="en-GB"; vsid=Secret-cookie', 'Cookie: [REDACTED]'],
    [
      'sent {"Cookie":"lang=\\"en\\"; vsid=Secret-cookie","x":1} upstream',
      'sent {"Cookie":"[REDACTED]","x":1} upstream',
    ],
    // Vidispine decodes a parameter's name before it reads it: so does the scrub.
    ['/API/x?%74oken=abc123secret&p=1', '/API/x?%74oken=[REDACTED]&p=1'],
    ['/API/x?p=1&pass%77ord=hunter22', '/API/x?p=1&pass%77ord=[REDACTED]'],
    ['/API/x?ACCESS%5fKEY=AKIA1234', '/API/x?ACCESS%5fKEY=[REDACTED]'],
    ['/APInoauth/x;%68ash=ab12cd/y', '/APInoauth/x;%68ash=[REDACTED]/y'],
    [
      '/API/x?user[password]=hunter22&a.token=ab12',
      '/API/x?user[password]=[REDACTED]&a.token=[REDACTED]',
    ],
    ['/API/x?y?token=ab12', '/API/x?y?token=[REDACTED]'],
    // Other names clients give a credential: a Java session id in the path, a JWT, a
    // signature (Azure's `sig`), a key, a private key, a short password.
    [
      '/API/item;jsessionid=0A1B2C3D4E5F/metadata?p=1',
      '/API/item;jsessionid=[REDACTED]/metadata?p=1',
    ],
    [
      '/API/x?jwt=eyJhbGci.eyJzdWIi.c2ln&sig=AzSAS123&key=AIzaKEY99&p=1',
      '/API/x?jwt=[REDACTED]&sig=[REDACTED]&key=[REDACTED]&p=1',
    ],
    [
      '/API/x?pwd=hunter22&pass=hunter23&session_id=S3SS10N&credential=CR3D&private_key=PK1',
      '/API/x?pwd=[REDACTED]&pass=[REDACTED]&session_id=[REDACTED]&credential=[REDACTED]&private_key=[REDACTED]',
    ],
    // A URL with credentials in a parameter's value, percent-encoded as a query must carry
    // it (Vidispine's `uri=` of an import or a storage method): its password goes too.
    [
      '/API/import?uri=s3%3A%2F%2FAKIAEXAMPLE%3AS3cr3t%2Bkey%40bucket%2Fa.mp4&tag=x',
      '/API/import?uri=s3%3A%2F%2FAKIAEXAMPLE%3A[REDACTED]%40bucket%2Fa.mp4&tag=x',
    ],
    [
      '/API/storage/VX-1/method?url=ftp%3a//bob%3aftp-pw-123%40ftp.example/in/',
      '/API/storage/VX-1/method?url=ftp%3a//bob%3a[REDACTED]%40ftp.example/in/',
    ],
    ['GET http://ann%40corp:pw-77x@h/ failed', 'GET http://ann%40corp:[REDACTED]@h/ failed'],
    // A password holding an encoded @ or / is blanked to its real end.
    [
      '/API/import?uri=ftp%3A%2F%2Fbob%3Apw%2540x%252Fy%40host%2Ff',
      '/API/import?uri=ftp%3A%2F%2Fbob%3A[REDACTED]%40host%2Ff',
    ],
    // A username that is an address, its @ left as it is: the password ends at the last @.
    [
      '/API/import?uri=ftp%3A%2F%2Fops%40corp.example%3Aftp-pw-123%40ftp.example%2Fin&x=1',
      '/API/import?uri=ftp%3A%2F%2Fops%40corp.example%3A[REDACTED]%40ftp.example%2Fin&x=1',
    ],
    [
      'GET ftp://ops@corp.example:ftp-pw-123@ftp.example/in failed',
      'GET ftp://ops@corp.example:[REDACTED]@ftp.example/in failed',
    ],
    // A password with an @ left as it is (URL parsers take the userinfo up to the last @
    // before the host): all of it is blanked, not only what comes before its first @.
    [
      'GET ftp://ingest:p@ss-w0rd@ftp.example/in failed',
      'GET ftp://ingest:[REDACTED]@ftp.example/in failed',
    ],
    [
      '/API/import?uri=ftp%3A%2F%2Fingest%3Ap%40ss-w0rd%40ftp.example%2Fin&x=1',
      '/API/import?uri=ftp%3A%2F%2Fingest%3A[REDACTED]%40ftp.example%2Fin&x=1',
    ],
    [
      '/API/import?uri=ftp%3A%2F%2Fops%40corp.example%3Ap%40ss%40ftp.example%2Fa%40b',
      '/API/import?uri=ftp%3A%2F%2Fops%40corp.example%3A[REDACTED]%40ftp.example%2Fa%40b',
    ],
    [
      'GET ftp://ops@corp.example:p@ss@ftp.example/a@b failed',
      'GET ftp://ops@corp.example:[REDACTED]@ftp.example/a@b failed',
    ],
    // A URL in a parameter's value with credentials of its own in its query, as an import
    // from a presigned S3 URL or an Azure SAS URL sends them: `?`, `&` and `=` come encoded.
    [
      '/API/import?uri=https%3A%2F%2Fb.s3.amazonaws.com%2Fa.mp4%3FX-Amz-Credential%3DAKIAEXAMPLE%252F20261205%26X-Amz-Expires%3D900%26X-Amz-Signature%3Dfe5f80f77d5fa3be&tag=x',
      '/API/import?uri=https%3A%2F%2Fb.s3.amazonaws.com%2Fa.mp4%3FX-Amz-Credential%3D[REDACTED]%26X-Amz-Expires%3D900%26X-Amz-Signature%3D[REDACTED]&tag=x',
    ],
    [
      '/API/import?uri=https%3a%2f%2fa.blob.core.windows.net%2fc%2fa.mp4%3fsv%3d2022-11-02%26sig%3dAzSAS%252Bkey%253D',
      '/API/import?uri=https%3a%2f%2fa.blob.core.windows.net%2fc%2fa.mp4%3fsv%3d2022-11-02%26sig%3d[REDACTED]',
    ],
    // A URL with a query of its own, not encoded, in a parameter's value (an import from a
    // presigned URL as a user writes it): its parameters are read too.
    [
      '/API/import?uri=https://b.s3.amazonaws.com/a.mp4?X-Amz-Signature=fe5f80f77d&t=2',
      '/API/import?uri=https://b.s3.amazonaws.com/a.mp4?X-Amz-Signature=[REDACTED]&t=2',
    ],
    [
      '/API/import?uri=https://a.blob.core.windows.net/c/a.mp4?sig=AzSAS+key=&tag=x',
      '/API/import?uri=https://a.blob.core.windows.net/c/a.mp4?sig=[REDACTED]&tag=x',
    ],
    // The same, encoded twice.
    [
      '/API/import?uri=https%253A%252F%252Fb%252Fa.mp4%253FX-Amz-Expires%253D900%2526X-Amz-Signature%253Dfe5f80f77d&t=2',
      '/API/import?uri=https%253A%252F%252Fb%252Fa.mp4%253FX-Amz-Expires%253D900%2526X-Amz-Signature%253D[REDACTED]&t=2',
    ],
    // Encoded three times, as a URL's userinfo is read.
    [
      '/API/import?uri=https%25253A%25252F%25252Fb%25252Fa.mp4%25253FX-Amz-Signature%25253Dfe5f80f77d%252526t%25253D2&t=2',
      '/API/import?uri=https%25253A%25252F%25252Fb%25252Fa.mp4%25253FX-Amz-Signature%25253D[REDACTED]%252526t%25253D2&t=2',
    ],
    [
      '/API/import?uri=s3%25253A%25252F%25252FK%25253Aab%25252Fcd%252540bucket&t=2',
      '/API/import?uri=s3%25253A%25252F%25252FK%25253A[REDACTED]%252540bucket&t=2',
    ],
    // A quote in an earlier value (sent as it is, which Node's parser lets through) does not
    // turn the query after it into a path, where a `/` would end the credential's value.
    ["/API/x?q='&token=ab/cd&y=1", "/API/x?q='&token=[REDACTED]&y=1"],
    ['GET /API/x?q="&password=p/q?r#f 404', 'GET /API/x?q="&password=[REDACTED]#f 404'],
    ['{"path":"/API/x?token=ab/cd","n":1}', '{"path":"/API/x?token=[REDACTED]","n":1}'],
    // A quote in a credential's own value (encodeURIComponent sends `'` as it is) is part of
    // it; only a closing one ends it (then `,`, `:`, `}`, `]`, `)` or the end of the text).
    ["/API/x?password=it's%2Fmine&x=1", '/API/x?password=[REDACTED]&x=1'],
    ['GET /API/x;password=p"ss/meta 200', 'GET /API/x;password=[REDACTED]/meta 200'],
    [
      "see '/API/x?token=abc', then '/API/y?token=def'",
      "see '/API/x?token=[REDACTED]', then '/API/y?token=[REDACTED]'",
    ],
    ['("/API/x?a=1&token=abc")', '("/API/x?a=1&token=[REDACTED]")'],
    // Decoded once, as the server does: %2574 is the text %74, not a t.
    ['/API/x?%2574oken=abc123', '/API/x?%2574oken=abc123'],
    // A password with a `/` in it, as about half of AWS secret keys have and as storage URIs
    // are written: blanked up to the last `@` before the first `/` that follows an `@`.
    [
      '/API/import?uri=s3://AKIAEXAMPLE:ab/cd+ef@bucket/key&tag=x',
      '/API/import?uri=s3://AKIAEXAMPLE:[REDACTED]@bucket/key&tag=x',
    ],
    ['GET s3://K:a/b@bucket/path@x failed', 'GET s3://K:[REDACTED]@bucket/path@x failed'],
    ['GET s3://K:a/b/c@d@bucket/key failed', 'GET s3://K:[REDACTED]@bucket/key failed'],
    ['GET ftp://u:p"ss@host/in failed', 'GET ftp://u:[REDACTED]@host/in failed'],
    [
      '{"uri":"s3://K:a/b@bucket/k","by":"ops@corp"}',
      '{"uri":"s3://K:[REDACTED]@bucket/k","by":"ops@corp"}',
    ],
    ['GET ftp://K:a:b/c@host/in failed', 'GET ftp://K:[REDACTED]@host/in failed'],
    // A password with a `/` and a `&`, `?` or `#` that begins no parameter (no `=` after a
    // name): all of it.
    ['GET http://admin:p/a&s?s#w@host/API failed', 'GET http://admin:[REDACTED]@host/API failed'],
    ['GET ftp://u:a/b?c#d&e@host/in', 'GET ftp://u:[REDACTED]@host/in'],
    // Outside a parameter's value, an `&` before any `?` begins no parameter: a name and its
    // `=` after it are the password's.
    [
      'GET http://admin:p/a&s=S3cret-1@host/API failed',
      'GET http://admin:[REDACTED]@host/API failed',
    ],
    [
      '{"uri":"s3://K:ab/cd&s=S3cret-2@bucket/k","by":"ops@corp"}',
      '{"uri":"s3://K:[REDACTED]@bucket/k","by":"ops@corp"}',
    ],
    // Not an http(s) URL: digits before the `/` are the password's.
    ['GET s3://K:12/cd@bucket/key failed', 'GET s3://K:[REDACTED]@bucket/key failed'],
    [
      '/API/import?uri=ftp%3A%2F%2FK%3Aa%3Ab%2Fc%40host%2Fin',
      '/API/import?uri=ftp%3A%2F%2FK%3A[REDACTED]%40host%2Fin',
    ],
    // A URL whose userinfo was encoded once more than its scheme (a client that encodes the
    // password, then the whole URL), or the other way round: each delimiter at its own level.
    [
      '/API/import?uri=s3%3A%2F%2FK%253AS3cret-1%2540bucket%252Fa.mp4&x=1',
      '/API/import?uri=s3%3A%2F%2FK%253A[REDACTED]%2540bucket%252Fa.mp4&x=1',
    ],
    [
      '/API/import?uri=s3%3A//K%25253AS3cret-2%40bucket/a.mp4',
      '/API/import?uri=s3%3A//K%25253A[REDACTED]%40bucket/a.mp4',
    ],
    [
      '/API/import?uri=ftp%3A%2F%2Fbob%3AS3cret-3%252540host%2Fin',
      '/API/import?uri=ftp%3A%2F%2Fbob%3A[REDACTED]%252540host%2Fin',
    ],
    [
      'import of s3%3A%2F%2FK%253AS3cret-4%2540bucket failed',
      'import of s3%3A%2F%2FK%253A[REDACTED]%2540bucket failed',
    ],
    [
      '/API/import?uri=s3%3A%2F%2FAKIAEXAMPLE%3Aab%2Fcd%40bucket&tag=x',
      '/API/import?uri=s3%3A%2F%2FAKIAEXAMPLE%3A[REDACTED]%40bucket&tag=x',
    ],
    [
      '/API/import?uri=s3%3A%2F%2FK%3Aa%2Fb%40bucket%2Fpath%40x',
      '/API/import?uri=s3%3A%2F%2FK%3A[REDACTED]%40bucket%2Fpath%40x',
    ],
    // Encoded twice (a client that encodes an encoded URL once more): blanked all the same.
    [
      '/API/import?uri=s3%253A%252F%252FK%253Apw%2540b&tag=x',
      '/API/import?uri=s3%253A%252F%252FK%253A[REDACTED]%2540b&tag=x',
    ],
    [
      '/API/import?uri=s3%253A%252F%252FAKIAEXAMPLE%253Aab%252Fcd%252Bef%2540bucket%252Fkey',
      '/API/import?uri=s3%253A%252F%252FAKIAEXAMPLE%253A[REDACTED]%2540bucket%252Fkey',
    ],
    // Credential names as whole words of a name (split at `-`, `_`, `.`, brackets, digits
    // and camelCase), and the compounds that are one word.
    [
      '/API/x?sessionToken=S1&x-auth-token=S2&AWSAccessKeyId=S3&authtoken=S4&client_secret=S5',
      '/API/x?sessionToken=[REDACTED]&x-auth-token=[REDACTED]&AWSAccessKeyId=[REDACTED]&authtoken=[REDACTED]&client_secret=[REDACTED]',
    ],
    [
      '/API/x?X-Amz-Security-Token=S6&api-key=S7&newPassword2=S8&PHPSESSID=S9&Auth=S10',
      '/API/x?X-Amz-Security-Token=[REDACTED]&api-key=[REDACTED]&newPassword2=[REDACTED]&PHPSESSID=[REDACTED]&Auth=[REDACTED]',
    ],
    // OAuth's: `oauth` a word of its own (OAuth 1.0's `oauth_verifier`), `authcode` one word.
    [
      '/API/x?oauth=S11&oauth_verifier=S12&authcode=S13',
      '/API/x?oauth=[REDACTED]&oauth_verifier=[REDACTED]&authcode=[REDACTED]',
    ],
    // One word that begins with a credential's word that begins no English one (`passwordhash`,
    // `apikeyvalue`, ASP's `ASPSESSIONIDQQGGQ`), or with `token`, `secret` or `session` and then
    // what names its value (`tokenid`, `secretvalue`).
    [
      '/API/x?passwordhash=S1&passwordnew=S2&passwdhash=S3&passphrasevalue=S4&passcode=S5&apikeyvalue=S6&accesskeyid=S7&privatekeypem=S8&ASPSESSIONIDQQGGQ=S9',
      '/API/x?passwordhash=[REDACTED]&passwordnew=[REDACTED]&passwdhash=[REDACTED]&passphrasevalue=[REDACTED]&passcode=[REDACTED]&apikeyvalue=[REDACTED]&accesskeyid=[REDACTED]&privatekeypem=[REDACTED]&ASPSESSIONIDQQGGQ=[REDACTED]',
    ],
    [
      '/API/x?tokenvalue=S10&tokenid=S11&tokenhash=S12&tokenstr=S13&secretvalue=S14&secretid=S15&sessionvalue=S16&api_keyvalue=S17&user_passwordhash=S18',
      '/API/x?tokenvalue=[REDACTED]&tokenid=[REDACTED]&tokenhash=[REDACTED]&tokenstr=[REDACTED]&secretvalue=[REDACTED]&secretid=[REDACTED]&sessionvalue=[REDACTED]&api_keyvalue=[REDACTED]&user_passwordhash=[REDACTED]',
    ],
  ])('%s', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it.each([
    'token expired for user ingest',
    'no token held; first mint under way',
    'minted a token for ingest via GET /API/token (60 s lifetime, 12 ms)',
    'HTTP 503 from http://vidispine:8080/API/user/ingest/token?seconds=60&autoRefresh=true',
    '/API/import?uri=s3%3A%2F%2Fbucket%2Fa.mp4&tag=x%3Ay%40z',
    '/API/storage/VX-1/method?uri=file%3A%2F%2F%2Fsrv%2Fmedia%2F&bucket=a%3Ab',
    '/API/item?field=title&keyframe=1&passive=true&compass=n&signal=1',
    // A percent-encoded URL ends with its parameter: a port, then an address in the next one.
    '/API/import?uri=http%3A%2F%2Fmedia.example%3A8080&jobmetadata=notify%3Dops%40example.com',
    '/API/import?uri=http%3A%2F%2Fmedia.example%3A8080#x%40y',
    'GET http://ops@media.example:8080/in failed for ops@corp.example',
    '/API/import?uri=https%3A%2F%2Fcdn.example%2Fa.mp4%3Fv%3D2%26keyframe%3D1&tag=x',
    '/API/import?uri=http%3A%2F%2Fops%40media.example%3A8080%2Fin&notify=ops%40corp.example',
    'GET http://host/path?u=a@b failed',
    // A `/` then a parameter (a name and `=`) ends a URL with no `@` of its own.
    '/API/import?uri=s3://K:ab/cd&notify=ops@corp.example',
    '/API/import?uri=ftp://host:ab/cd?notify=ops@corp.example',
    // A quote ends a URL: JSON quoted in a message keeps the fields after it.
    '{"url":"http://vidispine:8080/API/item","user":"ops@corp.example"}',
    '{"url":"http://vidispine:8080","user":"ops@corp.example"}',
    '/API/import?uri=https%253A%252F%252Fcdn%252Fa.mp4%253Fv%253D2%2526keyframe%253D1&t=2',
    '/API/import?uri=https://cdn.example/a.mp4?v=2&tag=x?y',
    'GET http://vidispine:8080/API/item?notify=ops@corp.example failed',
    '/API/x?u=http://host:80/p&n=a@b',
    '/API/import?uri=s3%253A%252F%252Fbucket%252Fa%2540b.mp4&n=a%2540b',
    // A port, then a path with an `@` (a user named by address, as an absolute-form request
    // line or a redirect carries it): an http(s) URL's `:8080/` is a port, where no password
    // can hold a `/`; an IPv6 host's `[` is no username.
    'GET http://vidispine:8080/API/user/ops@corp.example/token 200',
    '{"path":"https://svc@vidispine:8443/API/user/ops@corp.example/groups"}',
    'GET http://[::1]:8080/API/user/ops@corp.example/token 200',
    '/API/x?next=http%3A%2F%2Fvidispine%3A8080%2FAPI%2Fuser%2Fops%40corp.example',
    // A credential's name inside another word is not that name.
    '/API/item?possession=1&author=ann&authority=x&sessionless=true&secretary=bob&tokenizer=ws',
    '/API/item?sort_key=title&keyframes=1&hashtag=a&passage=2&signatures_count=3',
    '/API/item?tokenization=icu&secretariat=ops&sessions=3&tokenized=1&passenger=2&passive=1',
    // Words that name a secret in a sentence, before what reads as no credential; a name
    // that only speaks of one; a configuration key's path; a path's segment.
    'Vidispine refused user "ops" a token: check the user\'s roles',
    'malformed token credentials: expected "token <token>"',
    'tokenState: valid, passwordFile: /run/secrets/pw, secretary: bob',
    'sidecar.admin.secret: required',
    'GET /API/token:1 200',
    // A quote right after the colon closes what it quotes: no value follows.
    "the header must start with 'token:' and a space",
    // An encoded `=` in a path's segment, or in a parameter's value that is a path or a URL:
    // the words of the path before it are no parameter's name.
    'GET /API/item/VX-1/token%3D1/refresh 404',
    '/API/user/ops/password%3Dreset/x?p=1',
    '/API/storage/VX-1/file?path=/mnt/secrets/a%3D1.mov&tag=original',
    '/API/import?uri=https%3A%2F%2Fcdn.example%2Fsecret-plans%3Dv2.mp4&tag=original',
  ])('leaves ordinary text alone: %s', (text) => {
    expect(redactSecrets(text)).toBe(text);
  });

  // An Authorization header's value is a credential whatever its scheme: a Digest,
  // OAuth 1.0 or AWS Signature V4 value is a list of parameters, quoted values and commas
  // included, the response hash or signature among them.
  it.each([
    [
      'Authorization: Digest username="ops", realm="vidispine", nonce="dcd98b7102dd2f0e", uri="/API/item", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"',
      'Authorization: [REDACTED]',
    ],
    [
      'upstream said 401 to Proxy-Authorization: Digest username="ops",response="6629fae49393a053" (stale)',
      'upstream said 401 to Proxy-Authorization: [REDACTED] (stale)',
    ],
    [
      'sent {"authorization":"Digest username=\\"ops\\", response=\\"6629fae49393a053\\"","x":1} upstream',
      'sent {"authorization":"[REDACTED]","x":1} upstream',
    ],
    [
      'Authorization: OAuth oauth_consumer_key="k1", oauth_signature="wOJIO9A2W5mFwDgiDvZbTSMK%2FPY%3D"',
      'Authorization: [REDACTED]',
    ],
    [
      'Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261205/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3be\r\nHost: b',
      'Authorization: [REDACTED]\r\nHost: b',
    ],
  ])('blanks every parameter of an Authorization value: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // Vidispine's `token <t>` is blanked at any length where it is an Authorization value
  // (however the header is written: a header line, a Map, a list of names and values as
  // text) or a `token=` parameter; in prose, only when it reads as a credential (long, or
  // with a digit), so that `token expired` stays readable.
  it.each([
    ['Authorization: token ab', 'Authorization: [REDACTED]'],
    ['/API/item?token=ab&p=1', '/API/item?token=[REDACTED]&p=1'],
    [
      inspect(new Map([['authorization', 'token ab']])),
      "Map(1) { 'authorization' => '[REDACTED]' }",
    ],
    [
      JSON.stringify(['authorization', 'token ab', 'accept', '*/*']),
      '["authorization","[REDACTED]","accept","*/*"]',
    ],
    [inspect(['Proxy-Authorization', 'token ab, x']), "[ 'Proxy-Authorization', '[REDACTED]' ]"],
    // A list too long for one line, as util.inspect and JSON.stringify(…, null, 2) write a
    // request's rawHeaders: an item a line, whatever its scheme.
    [
      inspect([
        'Host',
        '127.0.0.1:8080',
        'Authorization',
        'Negotiate YIIGhgYGKwYBBQUCoIIG',
        'A',
        '*',
      ]),
      "[\n  'Host',\n  '127.0.0.1:8080',\n  'Authorization',\n  '[REDACTED]',\n  'A',\n  '*'\n]",
    ],
    [
      JSON.stringify(['authorization', 'token ab', 'accept', '*/*'], null, 2),
      '[\n  "authorization",\n  "[REDACTED]",\n  "accept",\n  "*/*"\n]',
    ],
    // Names of headers only, and prose: kept.
    [
      inspect(['authorization', 'proxy-authorization']),
      "[ 'authorization', 'proxy-authorization' ]",
    ],
    ['token expired; "token abcdef" refused', 'token expired; "token abcdef" refused'],
  ])('blanks a token scheme value wherever it is an Authorization value: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A Cookie or Set-Cookie value after its name in a list of names and values as text
  // (Node's rawHeaders as JSON or util.inspect write it, on one line or an item a line):
  // blanked, as an Authorization value is; a list of header names only is kept.
  it.each([
    ['["Cookie","vsid=Secret-1"]', '["Cookie","[REDACTED]"]'],
    [
      JSON.stringify(['Host', 'h', 'cookie', 'lang=en; vsid=Secret-2', 'Accept', '*/*']),
      '["Host","h","cookie","[REDACTED]","Accept","*/*"]',
    ],
    [inspect(['Set-Cookie', 'vsid=Secret-3; Path=/']), "[ 'Set-Cookie', '[REDACTED]' ]"],
    [
      inspect(['Host', '127.0.0.1:8080', 'Cookie', 'vsid=Secret-4', 'A', 'a'.repeat(60)]),
      `[\n  'Host',\n  '127.0.0.1:8080',\n  'Cookie',\n  '[REDACTED]',\n  'A',\n  '${'a'.repeat(60)}'\n]`,
    ],
    [inspect(['cookie', 'set-cookie', 'accept']), "[ 'cookie', 'set-cookie', 'accept' ]"],
  ])('blanks a Cookie value after its name in a list of headers as text: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A header's values as a list after its name (`Object.entries` of Node's headers,
  // `[name, values]` pairs as text): all of the list, as under that key in an object.
  it.each([
    ['["Set-Cookie",["vsid=Secret-1; Path=/"]]', '["Set-Cookie",[REDACTED]]'],
    [
      JSON.stringify([
        ['set-cookie', ['vsid=Secret-2; Path=/', 'lang=Secret-3']],
        ['a', ['b']],
      ]),
      '[["set-cookie",[REDACTED]],["a",["b"]]]',
    ],
    [
      inspect([['authorization', ['token Secret-4']]], { breakLength: 1 }),
      "[\n  [\n    'authorization',\n    [REDACTED]\n  ]\n]",
    ],
    ['["cookie",["accept","host"]]', '["cookie",["accept","host"]]'],
  ])('blanks the list of a secret header after its name as text: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A Map as util.inspect writes it (`'key' => value`): an entry whose key is secret has its
  // value blanked, whatever the key (as it would be under that key in an object); other
  // entries stay.
  it.each([
    [
      inspect(
        new Map([
          ['x-api-key', 'k-Secret-1'],
          ['accept', '*/*'],
        ]),
      ),
      "Map(2) { 'x-api-key' => '[REDACTED]', 'accept' => '*/*' }",
    ],
    [
      inspect(
        new Map([
          ['Cookie', 'vsid=Secret-2; lang=en'],
          ['password', "it's Secret-3"],
        ]),
      ),
      "Map(2) {\n  'Cookie' => '[REDACTED]',\n  'password' => \"[REDACTED]\"\n}",
    ],
    [
      inspect(
        new Map<string, unknown>([
          ['passwordHash', { v: 'Secret-4' }],
          ['n', 1],
        ]),
      ),
      "Map(2) { 'passwordHash' => [REDACTED], 'n' => 1 }",
    ],
    [inspect(new Map([['token', 12345678]])), "Map(1) { 'token' => [REDACTED]}"],
    [
      inspect(
        new Map([
          ['tokenExpiresAt', 'x'],
          ['title', 'password'],
        ]),
      ),
      "Map(2) { 'tokenExpiresAt' => 'x', 'title' => 'password' }",
    ],
  ])("blanks a Map's entry under a secret key as util.inspect writes it: %s", (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A header or a field written as text (a raw header block, an error's message, JSON in a
  // message, a form's or a query's text without its `?`) whose name the key policy calls
  // secret: its value goes, as an Authorization header's does.
  it.each([
    [
      'Host: vidispine:8080\r\nX-Api-Key: Api-key-of-ops\r\nx-auth-token: tok\r\nAccept: */*',
      'Host: vidispine:8080\r\nX-Api-Key: [REDACTED]\r\nx-auth-token: [REDACTED]\r\nAccept: */*',
    ],
    ['request refused, X-Api-Key: v', 'request refused, X-Api-Key: [REDACTED]'],
    ['Note: X-Auth-Token: v, retrying', 'Note: X-Auth-Token: [REDACTED], retrying'],
    [
      'sent {"X-Api-Key":"v","Accept":"*/*","password":"pw"} upstream',
      'sent {"X-Api-Key":"[REDACTED]","Accept":"*/*","password":"[REDACTED]"} upstream',
    ],
    // A header block's line of one word, and such a name followed by what reads as a
    // credential anywhere.
    ['Host: h\nToken: tok\nPassword: hunter', 'Host: h\nToken: [REDACTED]\nPassword: [REDACTED]'],
    ['login with password: hunter22 failed', 'login with password: [REDACTED] failed'],
    ['api_key=v&format=json', 'api_key=[REDACTED]&format=json'],
    ['posted body: api_key=ab/cd&x=1', 'posted body: api_key=[REDACTED]&x=1'],
    ["posted 'password=hunter&user=ops'", "posted 'password=[REDACTED]&user=ops'"],
    // Percent-encoded where no encoded `?` or `&` comes before: a parameter's value that is a
    // query (`?state=api_key%3D…`), a word that begins with one, headers sent as a
    // parameter's value (`authorization%3A%20Basic…`, one line after another).
    [
      '/API/import?state=api_key%3DS3cretA%26x%3D1&p=1',
      '/API/import?state=api_key%3D[REDACTED]%26x%3D1&p=1',
    ],
    ['body password%3DS3cretB%26user%3Dops', 'body password%3D[REDACTED]%26user%3Dops'],
    [
      '/API/x?h=authorization%3A%20Basic%20dXNlcjpwYXNz%0D%0Aaccept%3A%20%2A&p=1',
      '/API/x?h=authorization%3A%20[REDACTED]%0D%0Aaccept%3A%20%2A&p=1',
    ],
    ['h=accept%3A%20*%0D%0AX-Api-Key%3AS3cretC', 'h=accept%3A%20*%0D%0AX-Api-Key%3A[REDACTED]'],
    ['/API/x?q=tokenizer%3Don&t=title%3A%20a', '/API/x?q=tokenizer%3Don&t=title%3A%20a'],
    // JSON percent-encoded in a parameter's value, its quotes as %22 (as encodeURIComponent,
    // URLSearchParams or a client that encodes twice writes it): the value up to its quote.
    [
      '/API/x?q=%7B%22password%22%3A%22S3cretD%22%2C%22user%22%3A%22ops%22%7D&y=1',
      '/API/x?q=%7B%22password%22%3A%22[REDACTED]%22%2C%22user%22%3A%22ops%22%7D&y=1',
    ],
    [
      `/API/x?q=${new URLSearchParams({ q: JSON.stringify({ 'x-api-key': 'S3 cretE' }, null, 1) }).toString().slice(2)}`,
      '/API/x?q=%7B%0A+%22x-api-key%22%3A+%22[REDACTED]%22%0A%7D',
    ],
    [
      '/API/x?q=%257B%2522password%2522%253A%2522S3cretF%2522%257D',
      '/API/x?q=%257B%2522password%2522%253A%2522[REDACTED]%2522%257D',
    ],
    [
      `/API/x?q=${encodeURIComponent(JSON.stringify({ password: 'ab"S3cretG', user: 'ops' }))}`,
      '/API/x?q=%7B%22password%22%3A%22[REDACTED]%22%2C%22user%22%3A%22ops%22%7D',
    ],
    // As the URL standard writes a query (fetch, undici, a browser, Node's URL): its quotes
    // encoded, its `{`, `:` and `,` as they are.
    [
      new URL(`http://h/API/x?q=${JSON.stringify({ password: 'S3cretH', user: 'ops' })}`).search,
      '?q={%22password%22:%22[REDACTED]%22,%22user%22:%22ops%22}',
    ],
    [
      new URL(`http://h/API/x?q={"x-api-key": "S3 cretI", 'token': 'S3cretJ'}`).search,
      '?q={%22x-api-key%22:%20%22[REDACTED]%22,%20%27token%27:%20%27[REDACTED]%27}',
    ],
    ['?q={%22title%22:%22a:b%22,%22pass%22:1}', '?q={%22title%22:%22a:b%22,%22pass%22:[REDACTED]'],
    // A field after one whose value is not quoted (a number, `null`, a list): its own.
    [
      `?q=${encodeURIComponent(JSON.stringify({ page: 1, password: 'S3cretK' }))}`,
      '?q=%7B%22page%22%3A1%2C%22password%22%3A%22[REDACTED]%22%7D',
    ],
    [
      new URL(`http://h/?q={"n":null,"a":[1],"token":"S3cretL"}`).search,
      '?q={%22n%22:null,%22a%22:[1],%22token%22:%22[REDACTED]%22}',
    ],
    [
      `?q=${encodeURIComponent(JSON.stringify({ a: [1], 'x-api-key': 'S3cretM', b: true }))}`,
      '?q=%7B%22a%22%3A%5B1%5D%2C%22x-api-key%22%3A%22[REDACTED]%22%2C%22b%22%3Atrue%7D',
    ],
    [
      '/API/x?q=password:ab%20c&t=%22title%22:%22x%22',
      '/API/x?q=password:ab%20c&t=%22title%22:%22x%22',
    ],
  ])('blanks the value of a header or field named as a secret in text: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // The same fields as other writers quote them: YAML's indented lines, what Node's
  // util.inspect writes (`{ password: 'pw' }`, `'x-api-key': 'k'`, one line or many), JSON
  // quoted in a JSON string (`{\"password\":\"pw\"}`, a body logged as a string).
  it.each([
    [
      'vidispine:\n  user: ops\n  password: hunter\n',
      'vidispine:\n  user: ops\n  password: [REDACTED]\n',
    ],
    ['\tToken: tok', '\tToken: [REDACTED]'],
    [
      "{\n  user: 'ops',\n  password: 'hunter'\n}",
      "{\n  user: 'ops',\n  password: '[REDACTED]'\n}",
    ],
    [
      "Received { user: 'ops', password: 'hunter' }",
      "Received { user: 'ops', password: '[REDACTED]' }",
    ],
    ["{ 'x-api-key': 'k', accept: '*/*' }", "{ 'x-api-key': '[REDACTED]', accept: '*/*' }"],
    // A value in double quotes is read to its closing quote, as one in single quotes is: a
    // password's `,`, `;`, `}` and escaped `"` are its own.
    [
      JSON.stringify({ password: 'Pa,ss;w}rd"q', x: 1 }),
      JSON.stringify({ password: REDACTED, x: 1 }),
    ],
    ['{"x-api-key": "k,Secret-tail"}', '{"x-api-key": "[REDACTED]"}'],
    ['password: "Pa,Secret-tail"', 'password: "[REDACTED]"'],
    // util.inspect quotes a string that holds both `'` and `"` in backticks.
    [inspect({ password: `it's "Secret-1"` }), '{ password: `[REDACTED]` }'],
    [inspect({ 'x-api-key': `a'b"Secret-2` }), "{ 'x-api-key': `[REDACTED]` }"],
    [inspect({ 'x-api-key': [`a'b"Secret-3`, 'k2'] }), "{ 'x-api-key': [REDACTED] }"],
    [
      inspect({ name: 'VIDISPINE_PASSWORD', value: `pw'"Secret-4` }),
      "{ name: 'VIDISPINE_PASSWORD', value: `[REDACTED]` }",
    ],
    [
      'body "{\\"user\\":\\"ops\\",\\"password\\":\\"hunter\\",\\"x-api-key\\":\\"k\\"}"',
      'body "{\\"user\\":\\"ops\\",\\"password\\":\\"[REDACTED]\\",\\"x-api-key\\":\\"[REDACTED]\\"}"',
    ],
    // A value's own quotes, escaped once more (`\\\"`), are within it: a Digest value's, a cookie's.
    [
      JSON.stringify(
        JSON.stringify({ authorization: 'Digest username="ops", response="6629fae4"' }),
      ),
      '"{\\"authorization\\":\\"[REDACTED]\\"}"',
    ],
    [
      JSON.stringify(JSON.stringify({ cookie: 'lang="en"; vsid="abc"', x: 1 })),
      '"{\\"cookie\\":\\"[REDACTED]\\",\\"x\\":1}"',
    ],
    // A header's values as a list, as Node's `rawHeaders`, undici and util.inspect write
    // them (`set-cookie` holds one cookie a value): every value in it.
    [
      'sent {"authorization":["Basic dXNlcjpwYXNz"],"accept":["*/*"]}',
      'sent {"authorization":[REDACTED],"accept":["*/*"]}',
    ],
    ['{"x-api-key":["k1", "k2"],"x":1}', '{"x-api-key":[REDACTED],"x":1}'],
    ['{"Set-Cookie":["a=1; Path=/","vsid=Secret-cookie; HttpOnly"]}', '{"Set-Cookie":[REDACTED]}'],
    ['{"cookie":["vsid=Secret-cookie"]}', '{"cookie":[REDACTED]}'],
    [
      "{ 'set-cookie': [ 'a=1; Path=/', 'vsid=Secret-cookie' ], accept: [ '*/*' ] }",
      "{ 'set-cookie': [REDACTED], accept: [ '*/*' ] }",
    ],
    [
      "{\n  authorization: [\n    'Basic dXNlcjpwYXNz'\n  ]\n}",
      '{\n  authorization: [REDACTED]\n}',
    ],
    // Lists in lists and objects under such a name, however deep: all of it, up to the
    // bracket that closes it, brackets within its strings being their own.
    ['sent {"x-api-key":[["k-Secret-1"]],"x":1}', 'sent {"x-api-key":[REDACTED],"x":1}'],
    ['sent {"password":{"v":"p-Secret-2"},"x":1}', 'sent {"password":[REDACTED],"x":1}'],
    ['{"authorization":{"v":"Secret-3"},"x":1}', '{"authorization":[REDACTED],"x":1}'],
    ['{"cookie":{"vsid":"Secret-4"},"x":1}', '{"cookie":[REDACTED],"x":1}'],
    ['{"password":["a]",{"b":["Secret-5"]}],"x":1}', '{"password":[REDACTED],"x":1}'],
    [
      inspect({ password: { v: 'p-Secret-6' }, user: 'ops' }),
      "{ password: [REDACTED], user: 'ops' }",
    ],
    [
      JSON.stringify(JSON.stringify({ password: { v: 'a]}Secret-7' }, x: 1 })),
      '"{\\"password\\":[REDACTED],\\"x\\":1}"',
    ],
    // util.inspect cuts a long list at `... N more items`: the list is still all blanked; a
    // list cut short (a message cut at its length) is blanked to the end.
    [
      inspect({ 'x-api-key': Array.from({ length: 120 }, (_, i) => `Secret-8-${i}`), user: 'ops' }),
      "{\n  'x-api-key': [REDACTED],\n  user: 'ops'\n}",
    ],
    ['{"x-api-key":["Secret-9","Secret-10', '{"x-api-key":[REDACTED]'],
  ])(
    'blanks such a field as YAML, util.inspect and JSON in JSON write it: %s',
    (text, expected) => {
      expect(redactSecrets(text)).toBe(expected);
    },
  );

  // A YAML block scalar (`|`, `>`, `|-`, …) holds its value on the lines after it, indented
  // more than its key: those lines are blanked with it, the next key kept.
  it.each([
    ['password: |\n  S3cret-1\nuser: ops', 'password: [REDACTED]\nuser: ops'],
    [
      'env:\n  X_TOKEN: >-\n    S3cret-2\n\n    S3cret-3\n  X_USER: ops\n',
      'env:\n  X_TOKEN: [REDACTED]\n  X_USER: ops\n',
    ],
    [
      '- name: VIDISPINE_PASSWORD\n  value: |\n    S3cret-4\n- name: USER\n  value: |\n    ops',
      '- name: VIDISPINE_PASSWORD\n  value: [REDACTED]\n- name: USER\n  value: |\n    ops',
    ],
    ['password: |2+ # a comment\r\n   S3cret-5\r\nuser: ops', 'password: [REDACTED]\r\nuser: ops'],
    ['password: |\r  S3cret-6\r\r  S3cret-7\ruser: ops', 'password: [REDACTED]\ruser: ops'],
    ['password: !!binary |\n  UzNjcmV0LTg=\nuser: ops', 'password: [REDACTED]\nuser: ops'],
    ['X_TOKEN: &token !secret >-\n  S3cret-9\nuser: ops', 'X_TOKEN: [REDACTED]\nuser: ops'],
    ['password: a|\n  kept', 'password: [REDACTED]\n  kept'],
    ['note: |\n  kept\npassword: |', 'note: |\n  kept\npassword: [REDACTED]'],
  ])('blanks the lines of a secret YAML block scalar: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A key written with JSON escapes (`\u0070` is `p`) is the key JSON reads: its value is
  // blanked as the key's would be; an escaped value under another key is kept.
  it.each([
    ['{"\\u0070assword":"Secret-1"}', '{"\\u0070assword":"[REDACTED]"}'],
    ['{"p\\u0061ssword":"Secret-2","user":"ops"}', '{"p\\u0061ssword":"[REDACTED]","user":"ops"}'],
    [
      JSON.stringify('{"\\u0070assword":"Secret-3","n":1}'),
      '"{\\"\\\\u0070assword\\":\\"[REDACTED]\\",\\"n\\":1}"',
    ],
    [
      '{"name":"\\u0070assword","value":"Secret-4"}',
      '{"name":"\\u0070assword","value":"[REDACTED]"}',
    ],
    ['{"\\u006eote":"caf\\u00e9 \\u0070assword"}', '{"\\u006eote":"caf\\u00e9 \\u0070assword"}'],
  ])('blanks the value of a key written with JSON escapes: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A name and value pair written as text with its fields in any order, or apart (JSON's
  // and util.inspect's objects keep a program's field order): the value of the object whose
  // name is secret, wherever it is in it, and no other object's.
  it.each([
    [
      '{"value":"Secret-1","name":"authorization"}',
      '{"value":"[REDACTED]","name":"authorization"}',
    ],
    [
      '{"name":"password","other":1,"value":"Secret-2"}',
      '{"name":"password","other":1,"value":"[REDACTED]"}',
    ],
    [
      inspect({ value: 'Secret-3', name: 'authorization' }),
      "{ value: '[REDACTED]', name: 'authorization' }",
    ],
    [
      inspect({ name: 'password', note: 'a } b', value: 'Secret-4' }),
      "{ name: 'password', note: 'a } b', value: '[REDACTED]' }",
    ],
    [
      '[{"value":"ops","name":"user"},{"value":"Secret-5","name":"password"}]',
      '[{"value":"ops","name":"user"},{"value":"[REDACTED]","name":"password"}]',
    ],
    ['{"name":"password","value":{"v":"Secret-6"}}', '{"name":"password","value":[REDACTED]}'],
    [
      '{"name":"env","value":{"value":"Secret-7","Key":"X_PASSWORD"}}',
      '{"name":"env","value":{"value":"[REDACTED]","Key":"X_PASSWORD"}}',
    ],
    [
      JSON.stringify(JSON.stringify({ value: 'Secret-8', key: 'password' })),
      '"{\\"value\\":\\"[REDACTED]\\",\\"key\\":\\"password\\"}"',
    ],
    // Cut short: the pair is still the object's.
    [
      '{"value":"Secret-9","note":"x","name":"password"',
      '{"value":"[REDACTED]","note":"x","name":"password"',
    ],
    // Another object's value, even next to a secret name, is no pair's.
    [
      '[{"name":"password","note":"x"},{"value":"kept"}]',
      '[{"name":"password","note":"x"},{"value":"kept"}]',
    ],
    ['{"value":"ops","name":"user"}', '{"value":"ops","name":"user"}'],
  ])("blanks a pair written as text whatever its fields' order: %s", (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A query encoded as a value by itself, in a JSON string: its first parameter is read
  // from the quote that opens the string.
  it.each([
    ['{"msg":"password%3DS3cret-1","n":1}', '{"msg":"password%3D[REDACTED]","n":1}'],
    ['{"a":{"q":"token%3DS3cret-2%26x%3D1"}}', '{"a":{"q":"token%3D[REDACTED]%26x%3D1"}}'],
    ['{"path":"/API/item/VX-1/token%3D1/refresh"}', '{"path":"/API/item/VX-1/token%3D1/refresh"}'],
  ])('reads an encoded query that opens a string: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // Outside any object (prose, YAML), a pair is a run of fields next to each other, apart
  // by blanks, `,` or `;` only: a secret name elsewhere in a sentence, or in a YAML list's
  // other item, leaves a value alone.
  it.each([
    [
      "- name: 'VIDISPINE_PASSWORD'\n  value: S3cret-1\n- name: 'USER'\n  value: ops",
      "- name: 'VIDISPINE_PASSWORD'\n  value: [REDACTED]\n- name: 'USER'\n  value: ops",
    ],
    [
      '- name: VIDISPINE_PASSWORD\n  value: S3cret-2\n- name: VIDISPINE_USER\n  value: ops',
      '- name: VIDISPINE_PASSWORD\n  value: [REDACTED]\n- name: VIDISPINE_USER\n  value: ops',
    ],
    ["refused key: 'password', value: 'S3cret-3'", "refused key: 'password', value: '[REDACTED]'"],
    ["value: 'S3cret-4'; property: 'password'", "value: '[REDACTED]'; property: 'password'"],
    [
      "value: 42, name: 'password', value: 'S3cret-5'",
      "value: [REDACTED], name: 'password', value: '[REDACTED]'",
    ],
    ['value=42 retries for name=password', 'value=42 retries for name=password'],
  ])('reads a pair outside any object from fields next to each other: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  // A secret name and a value on one line outside any object, prose between them, may be a
  // pair: blanked, a sentence's value with it (a value blanked costs less than one logged).
  it.each([
    [
      "refused name: 'password' with value: 'S3cret-1'",
      "refused name: 'password' with value: '[REDACTED]'",
    ],
    [
      "value: 'S3cret-2' refused for key: 'password'",
      "value: '[REDACTED]' refused for key: 'password'",
    ],
    [
      "retrying with key: 'password' failed; value: 42 retries left",
      "retrying with key: 'password' failed; value: [REDACTED]",
    ],
    ['name: X_PASSWORD value: S3cret-4', 'name: X_PASSWORD value: [REDACTED]'],
    [
      'value: 42 retries, then name: "token" for ops',
      'value: [REDACTED], then name: "token" for ops',
    ],
    [
      "- name: USER\n  value: ops\n- name: 'X_PASSWORD' wrongly, value: S3cret-3\n  value: x",
      "- name: USER\n  value: ops\n- name: 'X_PASSWORD' wrongly, value: [REDACTED]\n  value: x",
    ],
  ])(
    'blanks a value on the line of a secret pair name outside any object: %s',
    (text, expected) => {
      expect(redactSecrets(text)).toBe(expected);
    },
  );

  // JSON may escape a `/` as `\/` (PHP's json_encode, Java's writers): such a URL's password
  // is blanked as the URL's, its host and port and a Vidispine path after them kept.
  it.each([
    [
      String.raw`{"uri":"http:\/\/admin:S3cret-1@host\/API"}`,
      String.raw`{"uri":"http:\/\/admin:[REDACTED]@host\/API"}`,
    ],
    [
      String.raw`{"uri":"s3:\/\/AKIA1:ab\/S3cret-2@bucket\/key"}`,
      String.raw`{"uri":"s3:\/\/AKIA1:[REDACTED]@bucket\/key"}`,
    ],
    [
      String.raw`import of ftp:\/\/ops:S3cret-3@ftp.example\/a.mov failed`,
      String.raw`import of ftp:\/\/ops:[REDACTED]@ftp.example\/a.mov failed`,
    ],
    [
      String.raw`{"uri":"http:\/\/vidispine:8080\/API\/user\/ops@corp.example\/token"}`,
      String.raw`{"uri":"http:\/\/vidispine:8080\/API\/user\/ops@corp.example\/token"}`,
    ],
    [
      String.raw`{"uri":"http:\/\/[::1]:8080\/API\/user\/ops@corp.example"}`,
      String.raw`{"uri":"http:\/\/[::1]:8080\/API\/user\/ops@corp.example"}`,
    ],
  ])('blanks the password of a URL whose slashes JSON escaped: %s', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it('scrubs a long run of dotted words, or of encoded `?`, in one pass', () => {
    // Each `a` after a dot could begin a URL's scheme (`a.a.a…://`): tried from every one of
    // them, the URL rules read the rest of the run again each time, 0.1 s for a logged path
    // of 8 KiB and minutes for this one. Run in a child process, so a scrub that takes
    // minutes is cut rather than waited for.
    const logger = join(__dirname, '..', '..', 'dist', 'ops', 'logger.js');
    const script = `
      const { redactSecrets } = require(${JSON.stringify(logger)});
      const path = '/API/item/' + 'a.'.repeat(128 * 1024) + '?p=' + '%3Fa'.repeat(64 * 1024);
      process.stdout.write(String(redactSecrets(path) === path));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect({ signal: run.signal, stdout: run.stdout }).toEqual({ signal: null, stdout: 'true' });
  });

  it('scrubs long runs of URLs, slashes and encoded delimiters in one pass', () => {
    // A password read across a `/` must not read the rest of the text again from each URL
    // in it. Run in a child process, so a scrub that takes minutes is cut.
    const logger = join(__dirname, '..', '..', 'dist', 'ops', 'logger.js');
    const script = `
      const { redactSecrets } = require(${JSON.stringify(logger)});
      const runs = [
        's3://k:' + 'a/'.repeat(128 * 1024),
        'a://b:'.repeat(48 * 1024),
        'a://b:c/'.repeat(32 * 1024),
        's3%3A%2F%2Fk%3A' + 'a%2F'.repeat(64 * 1024),
        'a%3a%2f%2fb%3ac%2f'.repeat(16 * 1024),
        'a%253a%252f%252fb%253ac%252f'.repeat(8 * 1024),
        '?' + 'Aa'.repeat(128 * 1024) + '=1',
        '?a=' + '?a'.repeat(128 * 1024),
        '%253f' + 'a%25253d'.repeat(32 * 1024),
        '%25253f' + 'a%2525253d'.repeat(24 * 1024),
        's3:\\\\/\\\\/k:' + 'a\\\\/'.repeat(64 * 1024),
        'a:\\\\/\\\\/b:'.repeat(32 * 1024),
        'a:\\\\/\\\\/b:c\\\\/'.repeat(16 * 1024),
        'a:\\\\/\\\\/b:' + '\\\\/'.repeat(64 * 1024),
      ];
      process.stdout.write(String(runs.every((run) => redactSecrets(run) === run)));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect({ signal: run.signal, stdout: run.stdout }).toEqual({ signal: null, stdout: 'true' });
  });
  it('scrubs long runs of lists, pairs, encoded fields and key headers in one pass', () => {
    // Lists, name and value pairs, encoded fields, Basic values and SSH keys are each read
    // from where they may begin: none may read the rest of the text again from each of
    // them. Run in a child process, so a scrub that takes minutes is cut.
    const logger = join(__dirname, '..', '..', 'dist', 'ops', 'logger.js');
    const script = `
      const { redactSecrets } = require(${JSON.stringify(logger)});
      const texts = [
        '%'.repeat(1024 * 1024), '"'.repeat(1024 * 1024), '['.repeat(1024 * 1024),
        '-'.repeat(1024 * 1024), '"x-api-key":["'.repeat(64 * 1024),
        '"x-api-key":["a"' + ' '.repeat(1024 * 1024), 'authorization: ['.repeat(64 * 1024),
        '{"name":"X_PASSWORD","value":"'.repeat(32 * 1024),
        '{"name":"X_PASSWORD",' + ' '.repeat(1024 * 1024), 'name:"' + 'a'.repeat(1024 * 1024),
        'a%3D'.repeat(256 * 1024), '=a'.repeat(512 * 1024), '%0Aa'.repeat(256 * 1024),
        'authorization%3A'.repeat(64 * 1024), 'Basic ' + 'a'.repeat(1024 * 1024) + '-',
        'basic '.repeat(128 * 1024), 'PRIVATE KEY ---- BEGIN SSH2 ' + 'A'.repeat(1024 * 1024),
        'Private-Lines: 1 '.repeat(64 * 1024), '"password":{"'.repeat(64 * 1024),
        'password: {' + "'a',".repeat(256 * 1024), '"x-api-key":[' + '\\\\"'.repeat(512 * 1024), 'value' + '{'.repeat(1024 * 1024),
        '{"value":['.repeat(64 * 1024), '%22password%22%3A%22'.repeat(50 * 1024), '%22password%22:%22'.repeat(50 * 1024), "'authorization', 'a ".repeat(48 * 1024),
        "'authorization' => '".repeat(48 * 1024), "'password' => ".repeat(64 * 1024), '"authorization","a' + ' '.repeat(1024 * 1024), "'authorization'" + '\\n'.repeat(512 * 1024) + ',' + '\\n'.repeat(512 * 1024),
        'password%22%3A%22' + '%5c'.repeat(256 * 1024), '{' + '"value":"a",'.repeat(80 * 1024),
        'value:' + ','.repeat(512 * 1024) + 'z' + 'key:{}'.repeat(64 * 1024),
        ':' + '\\\\u0070'.repeat(128 * 1024), ':' + '\\\\\\\\u0070'.repeat(128 * 1024),
        'value: a; '.repeat(64 * 1024) + "name: 'password'", "name: 'password' value: a\\n".repeat(32 * 1024),
        '["Set-Cookie",' + '['.repeat(64 * 1024), '"set-cookie",["a='.repeat(32 * 1024),
        'password: ' + '|\\n  '.repeat(64 * 1024), "name: 'password'\\nvalue: " + '|\\n  '.repeat(64 * 1024),
        'value: |\\n'.repeat(64 * 1024), 'password: |\\n' + ' \\n'.repeat(256 * 1024),
        '"cookie",[' + ' '.repeat(1024 * 1024), "'authorization', [ ".repeat(48 * 1024),
        'value: |\\r'.repeat(56 * 1024), '"password": |\\r'.repeat(32 * 1024),
      ];
      process.stdout.write(String(texts.every((text) => typeof redactSecrets(text) === 'string')));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect({ signal: run.signal, stdout: run.stdout }).toEqual({ signal: null, stdout: 'true' });
  });

  it('reads a long parameter name in one pass, after the log has read much other text', () => {
    // A name was read as its words one character at a time, each word built by appending
    // it: after the rules had read the text below, a name of 80 KB took 0.6 s, one of
    // 160 KB 8.6 s, and this one minutes. Run in a child process, so a scrub that takes
    // minutes is cut.
    const logger = join(__dirname, '..', '..', 'dist', 'ops', 'logger.js');
    const script = `
      const { redactSecrets } = require(${JSON.stringify(logger)});
      const texts = [':', '=', '"', '-----BEGIN PRIVATE KEY-----',
        '-----BEGIN PRIVATE KEY-----x-----END ', 'a:', 'password:', 'password: ',
        'x-api-key:', '"x-api-key":"', 'Authorization: x y=', 'a-'];
      for (const text of texts) redactSecrets(text.repeat(80000 / text.length));
      const name = '&' + 'a'.repeat(1024 * 1024) + '=';
      process.stdout.write(String(redactSecrets(name) === name));
    `;
    const run = spawnSync(process.execPath, ['-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect({ signal: run.signal, stdout: run.stdout }).toEqual({ signal: null, stdout: 'true' });
  });
});

describe('redactValue', () => {
  it('censors secret keys at any depth and scrubs strings', () => {
    const out = redactValue({
      req: {
        headers: {
          authorization: 'token abc',
          Cookie: 'a=b',
          'set-cookie': ['x=y'],
          'x-request-id': 'r1',
        },
      },
      config: { users: [{ name: 'ingest', password: 'pw', passwordFile: '/run/secret' }] },
      admin_secret: 'x',
      accessKey: 'k',
      url: 'http://u:p4ss@h/',
      lifetimeSeconds: 60,
      tokenState: 'valid',
    });
    expect(out).toEqual({
      req: {
        headers: {
          authorization: REDACTED,
          Cookie: REDACTED,
          'set-cookie': REDACTED,
          'x-request-id': 'r1',
        },
      },
      config: { users: [{ name: 'ingest', password: REDACTED, passwordFile: '/run/secret' }] },
      admin_secret: REDACTED,
      accessKey: REDACTED,
      url: `http://u:${REDACTED}@h/`,
      lifetimeSeconds: 60,
      tokenState: 'valid',
    });
  });

  it('turns errors into plain objects with scrubbed message, stack and cause', () => {
    const cause = new Error('Authorization: token VSID-123456');
    const error = Object.assign(new Error('GET http://a:b1@h/ failed', { cause }), {
      code: 'E1',
      token: 't',
    });
    const out = redactValue(error) as Record<string, unknown>;
    expect(out).toMatchObject({
      type: 'Error',
      message: `GET http://a:${REDACTED}@h/ failed`,
      code: 'E1',
      token: REDACTED,
    });
    expect(String(out.stack)).not.toContain(':b1@');
    expect(out.cause).toMatchObject({ message: `Authorization: ${REDACTED}` });
  });

  it("logs an AggregateError's errors, each as an error, at most ten", () => {
    const { logger, lines, raw } = captureLogs('info');
    // What a connect that tries every address of a name gives when all refuse: no message
    // of its own, the reasons in `errors`.
    const refused = (address: string): Error =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}:8080`), {
        code: 'ECONNREFUSED',
        address,
        port: 8080,
      });
    const leaky = new Error('GET http://ops:S3cret-pw@vidispine/API failed');
    const all = new AggregateError([refused('::1'), refused('127.0.0.1'), leaky]);
    const many = new AggregateError(
      Array.from({ length: 25 }, (_, i) => refused(`10.0.0.${i}`)),
      'all failed',
    );
    logger.error({ err: all }, 'connect failed');
    logger.error({ err: many }, 'connect failed');
    expect(raw.join('')).not.toContain('S3cret-pw');
    expect(lines[0]?.err).toMatchObject({
      type: 'AggregateError',
      errors: [
        { type: 'Error', message: 'connect ECONNREFUSED ::1:8080', code: 'ECONNREFUSED' },
        { message: 'connect ECONNREFUSED 127.0.0.1:8080', address: '127.0.0.1', port: 8080 },
        { message: `GET http://ops:${REDACTED}@vidispine/API failed` },
      ],
    });
    const manyErrors = (lines[1]?.err as { errors: { message: string }[] }).errors;
    expect(manyErrors.map((e) => e.message)).toEqual(
      Array.from({ length: 10 }, (_, i) => `connect ECONNREFUSED 10.0.0.${i}:8080`),
    );
    expect(lines[1]?.err).toMatchObject({ moreErrors: 15 });
  });

  it('writes a line whatever it is given, leaving out what cannot be read', () => {
    const { logger, lines } = captureLogs('info');
    // What a getter that throws, a Proxy's trap or a revoked Proxy does when read: the log
    // call threw it at its caller (a request's error handler, the fatal handler), and no
    // line was written.
    const failing = (what: string): never => {
      throw new Error(`cannot read ${what}`);
    };
    const getter = Object.defineProperty({ kept: 1 }, 'lazy', {
      enumerable: true,
      get: () => failing('lazy'),
    });
    const aggregate = Object.defineProperty(new AggregateError([], 'all failed'), 'errors', {
      get: () => failing('errors'),
    });
    const trapped = new Proxy({ name: 'X-Api-Key', value: 'v' }, { has: () => failing('has') });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const numbered = Object.assign(new Error('x'), { message: 42 });
    const given = { getter, aggregate, trapped, revoked: revoked.proxy, numbered, user: 'ops' };
    expect(() => logger.error(given, 'logged')).not.toThrow();
    expect(lines[0]).toEqual(
      expect.objectContaining({
        msg: 'logged',
        user: 'ops',
        getter: '[unreadable]',
        aggregate: '[unreadable]',
        trapped: '[unreadable]',
        revoked: '[unreadable]',
        numbered: '[unreadable]',
      }),
    );
  });

  it("never logs what an object's own toJSON gives", () => {
    const { logger, lines, raw } = captureLogs('info');
    // JSON.stringify, which writes the line, calls a `toJSON` it finds: one copied along
    // with the object's fields would give back what redaction had left out.
    const report = { user: 'ops', toJSON: () => ({ password: 'S3cret-from-toJSON' }) };
    logger.info({ report }, 'logged');
    expect(raw.join('')).not.toContain('S3cret-from-toJSON');
    expect(lines[0]?.report).toEqual({ user: 'ops' });
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(redactValue(a)).toEqual({ name: 'a', self: '[Circular or too deep]' });
  });

  it('knows which keys are secret', () => {
    expect(
      [
        'authorization',
        'Proxy-Authorization',
        'set_cookie',
        'adminPassword',
        'VIDISPINE_PASSWORD',
        'token',
        'accessToken',
        'clientSecret',
        'api-key',
      ].filter((k) => !isSecretKey(k)),
    ).toEqual([]);
    expect(
      ['user', 'tokenState', 'passwordFile', 'lifetimeSeconds', 'endpoint'].filter(isSecretKey),
    ).toEqual([]);
  });
});

describe('secret keys through the logger', () => {
  // A credential under any spelling of its name: camelCase, snake_case, kebab-case, a
  // qualifier that names the value itself (`Hash`, `Value`, `Id` of a token or session).
  const SECRET_KEYS = [
    'passwordHash',
    'password_hash',
    'newPassword2',
    'passphrase',
    'pwd',
    'secretKey',
    'secret_access_key',
    'accessKeySecret',
    'VIDISPINE_ACCESS_KEY_SECRET',
    'tokenValue',
    'tokenId',
    'token_id',
    'refresh-token',
    'authToken',
    'apiKeySecret',
    'apiKeyValue',
    'x-api-key',
    'clientSecret',
    'privateKey',
    'private_key',
    'signature',
    'sessionId',
    'JSESSIONID',
    'Authorization',
    'authorization',
    'proxyAuthorization',
    'cookie',
    'set-cookie',
    'cookies',
    'credentials',
    'auth',
    'secrets',
    'tokens',
    'creds',
    'basicCreds',
    'cred',
    'refreshToken',
    'REFRESH_TOKEN',
    'VIDISPINE_RUNAS_ACCESS_KEY_SECRET',
  ];
  // What a key says about a secret without holding it: when it lapses, its state, where it
  // is read from (a file path or a variable's name is no secret), how many, what kind. An
  // access key's ID (`VSID…`) is the name Vidispine's Basic login sends in the clear, as
  // `check` prints it, not its secret.
  const HARMLESS_KEYS = [
    'tokenExpiresAt',
    'tokenExpiry',
    'tokenState',
    'tokenMode',
    'tokenType',
    'tokenUrl',
    'tokenEndpoint',
    'token_refreshes_total',
    'passwordFile',
    'passwordEnv',
    'secretFile',
    'VIDISPINE_ACCESS_KEY_SECRET_FILE',
    'privateKeyPath',
    'accessKeyId',
    'VIDISPINE_ACCESS_KEY_ID',
    'secretName',
    'credsFile',
    'signatureAlgorithm',
    'author',
    'tokenizer',
    'secretary',
    // Settings: whether and how often a token is renewed (the sidecar's TOKEN_AUTO_REFRESH,
    // Vidispine's userTokenMaxInterval), how large a secret may be, the pull secrets' names.
    'TOKEN_AUTO_REFRESH',
    'tokenAutoRefresh',
    'userTokenRefreshInterval',
    'userTokenMaxInterval',
    'maxSecretBytes',
    'SIDECAR_IMAGE_PULL_SECRETS',
  ];
  // Every field name of every log line the project writes (src/: the lines of README's Logs
  // table, the configuration summaries of `run` and `inject`, the fields of its errors):
  // none may be blanked. `secret`, the name of the Kubernetes Secret an injected account's
  // credential is in, is blanked all the same, a field of that name being a secret's value
  // elsewhere (`accessKey.secret`).
  const LOGGED_KEYS = [
    ...['event', 'user', 'endpoint', 'result', 'lifetimeSeconds', 'durationMs', 'expiresAt'],
    ...['reason', 'error', 'retryInMs', 'hint', 'cause', 'configuredSeconds'],
    ...['observedSeconds', 'learnedSeconds', 'version', 'node', 'config', 'vidispine'],
    ...['adminUser', 'runAsUser', 'users', 'name', 'mintedBy', 'credentialKind', 'listen'],
    ...['autoRefresh', 'opsListen', 'accessLog', 'shutdown', 'delaySeconds', 'drainSeconds'],
    ...['max', 'path', 'err', 'step', 'signal', 'exitCode', 'stuckSecretReads', 'endedBy'],
    ...['listeners', 'address', 'port', 'host', 'ops', 'requestId', 'method', 'status'],
    ...['remoteAddress', 'replayed', 'refusal', 'detail', 'retried', 'listener', 'waiting'],
    ...['served', 'folder', 'quietSeconds', 'kind', 'recentErrors', 'phase', 'setting'],
    ...['code', 'uid', 'namespace', 'pod', 'operation', 'dryRun', 'message', 'warnings'],
    ...['certificate', 'subject', 'notAfter', 'fingerprint256', 'webhook', 'certFile'],
    ...['keyFile', 'maxBodyBytes', 'log', 'level', 'sidecar', 'image', 'imagePullPolicy'],
    ...['imagePullSecrets', 'vidispineUrl', 'vidispineCa', 'resources', 'requests'],
    ...['limits', 'admin', 'runAs', 'key', 'accessKeyId', 'type', 'stack', 'issues'],
    ...['problem', 'unread', 'reusedSocket', 'answerBytes', 'aborted', 'retryAfterMs'],
    ...['retryAfterSeconds', 'file', 'errno', 'syscall'],
  ];

  it('blanks every spelling of a secret and keeps what only speaks of one', () => {
    const { logger, lines, raw } = captureLogs('info');
    const secretValue = (i: number): string => `S3cret-value-${i}-of-a-key`;
    logger.info(
      {
        event: 'x',
        nested: Object.fromEntries(SECRET_KEYS.map((key, i) => [key, secretValue(i)])),
      },
      'logged',
    );
    expect(SECRET_KEYS.filter((_, i) => raw.join('').includes(secretValue(i)))).toEqual([]);
    // Blanked, not dropped: the line still says the field was there.
    expect(Object.keys(lines[0]?.nested as object)).toEqual(SECRET_KEYS);
  });

  it('blanks the values of secret headers given as lists of names and values', () => {
    const { logger, lines, raw } = captureLogs('info');
    const cookie = 'vsid=Secret-session-cookie';
    const apiKey = 'Api-key-of-ops';
    const basic = 'Basic b3BzOmh1bnRlcg==';
    // Node's `rawHeaders`, names and values one after the other; undici's `headers` as pairs.
    const rawHeaders = ['Host', 'vidispine:8080', 'Cookie', cookie, 'X-Api-Key', apiKey];
    const headers = [
      ['authorization', basic],
      ['set-cookie', [cookie]],
      ['accept', '*/*'],
    ];
    logger.info({ req: { rawHeaders, headers } }, 'logged');
    logger.error({ err: Object.assign(new Error('refused'), { rawHeaders }) }, 'failed');
    expect(
      [cookie, apiKey, 'b3BzOmh1bnRlcg'].filter((secret) => raw.join('').includes(secret)),
    ).toEqual([]);
    expect(lines[0]?.req).toEqual({
      rawHeaders: ['Host', 'vidispine:8080', 'Cookie', REDACTED, 'X-Api-Key', REDACTED],
      headers: [
        ['authorization', REDACTED],
        ['set-cookie', REDACTED],
        ['accept', '*/*'],
      ],
    });
    // A list of sentences or of an odd length is no list of headers: kept as it is.
    logger.info({ warnings: ['token expired', 'password', 'kept'] }, 'logged');
    expect(lines[2]?.warnings).toEqual(['token expired', 'password', 'kept']);
  });

  it('blanks the value of a name and value pair whose name is secret', () => {
    const { logger, lines, raw } = captureLogs('info');
    // A container's environment as Kubernetes writes it, and headers as name and value
    // objects (a HAR file's, a fetch's init turned into a list).
    const env = [
      { name: 'VIDISPINE_PASSWORD', value: 'S3cret-env-password' },
      { name: 'VIDISPINE_USER', value: 'ops' },
      { name: 'VIDISPINE_PASSWORD_FILE', value: '/var/run/secrets/pw' },
      // A reference to a Secret names it, its key and the variable: none is a secret.
      {
        name: 'VIDISPINE_ADMIN_PASSWORD',
        valueFrom: { secretKeyRef: { name: 'vidispine-admin', key: 'password' } },
      },
    ];
    const headers = [
      { name: 'X-Api-Key', value: 'Api-key-of-ops' },
      { name: 'Accept', value: '*/*' },
    ];
    logger.info({ containers: [{ name: 'proxy', env }], headers }, 'logged');
    // Settings, as the injected sidecar's environment and Vidispine's configuration
    // properties name them: logged as they are.
    const settings = [
      { name: 'TOKEN_AUTO_REFRESH', value: 'true' },
      { name: 'TOKEN_SECONDS', value: '60' },
      { name: 'SIDECAR_IMAGE_PULL_SECRETS', value: 'pull-secret' },
      { key: 'userTokenMaxInterval', value: '3600' },
    ];
    logger.info({ settings }, 'logged');
    expect(lines[1]?.settings).toEqual(settings);
    expect(
      ['S3cret-env-password', 'Api-key-of-ops'].filter((secret) => raw.join('').includes(secret)),
    ).toEqual([]);
    expect(lines[0]).toMatchObject({
      containers: [
        {
          name: 'proxy',
          env: [
            { name: 'VIDISPINE_PASSWORD', value: REDACTED },
            { name: 'VIDISPINE_USER', value: 'ops' },
            { name: 'VIDISPINE_PASSWORD_FILE', value: '/var/run/secrets/pw' },
            env[3],
          ],
        },
      ],
      headers: [
        { name: 'X-Api-Key', value: REDACTED },
        { name: 'Accept', value: '*/*' },
      ],
    });
  });

  it('blanks the value of such a pair written as text, or named by another field', () => {
    const { logger, lines, raw } = captureLogs('info');
    const env = [
      { name: 'VIDISPINE_PASSWORD', value: 'S3cret-env-password' },
      { name: 'VIDISPINE_USER', value: 'ops' },
      { name: 'VIDISPINE_PASSWORD_FILE', value: '/var/run/secrets/pw' },
    ];
    // As JSON, util.inspect and JSON in a JSON string write the pairs (a body, an error's
    // message); with capitals (AWS's `{Name, Value}`, `{Key, Value}`); a validation error's
    // `{key, value}` or `{property, value}` (Joi's context, class-validator's errors).
    logger.info(`env ${JSON.stringify(env)}`);
    logger.info(`env ${inspect(env)}`);
    logger.info({ body: JSON.stringify(JSON.stringify({ name: 'X-Api-Key', value: 'kQ' })) }, 'x');
    logger.info('tags [{"Name":"VIDISPINE_PASSWORD", "Value": "pwA,pwA;pwA}"}]');
    logger.info(`refused ${JSON.stringify({ key: 'password', value: 'pwB' })}`);
    logger.info(`refused ${inspect({ property: 'password', value: 'pwC' })}`);
    logger.info(
      {
        tags: [
          { Name: 'VIDISPINE_PASSWORD', Value: 'pwD' },
          { Key: 'ApiKey', Value: 'pwE' },
        ],
        errors: [
          { key: 'password', value: 'pwF' },
          { property: 'password', value: 'pwG', constraints: { minLength: 'too short' } },
          { key: 'user', value: 'ops' },
        ],
      },
      'refused',
    );
    const secrets = ['S3cret-env-password', 'kQ', 'pwA', 'pwB', 'pwC', 'pwD', 'pwE', 'pwF', 'pwG'];
    expect(secrets.filter((secret) => raw.join('').includes(secret))).toEqual([]);
    expect(lines.map((line) => line.msg).slice(0, 2)).toEqual([
      `env ${JSON.stringify(env).replace('S3cret-env-password', REDACTED)}`,
      `env ${inspect(env).replace('S3cret-env-password', REDACTED)}`,
    ]);
    expect(lines[6]).toMatchObject({
      tags: [
        { Name: 'VIDISPINE_PASSWORD', Value: REDACTED },
        { Key: 'ApiKey', Value: REDACTED },
      ],
      errors: [
        { key: 'password', value: REDACTED },
        { property: 'password', value: REDACTED, constraints: { minLength: 'too short' } },
        { key: 'user', value: 'ops' },
      ],
    });
  });

  it('blanks a PEM private key wherever it is written, and no certificate', () => {
    const { logger, lines, raw } = captureLogs('info');
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vp0dKeyBody';
    const pem = `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
    const rsa = `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\n${body}\n-----END RSA PRIVATE KEY-----`;
    const certificate =
      '-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpeg\n-----END CERTIFICATE-----\n';
    // Under a key that says nothing of a secret, in a message as JSON writes it, cut short.
    logger.info({ key: pem, certificate }, `cannot use ${JSON.stringify(rsa)}: bad`);
    logger.info({ read: `${certificate}${pem.slice(0, 50)}` }, 'cut');
    expect(raw.join('')).not.toContain(body.slice(0, 20));
    expect(lines[0]).toMatchObject({
      key: `-----BEGIN PRIVATE KEY-----${REDACTED}-----END PRIVATE KEY-----\n`,
      certificate,
      msg: `cannot use "-----BEGIN RSA PRIVATE KEY-----${REDACTED}-----END RSA PRIVATE KEY-----": bad`,
    });
    expect(lines[1]?.read).toBe(`${certificate}-----BEGIN PRIVATE KEY-----${REDACTED}`);
  });

  it("blanks a PuTTY key's private lines and an SSH2 private key, and no public key", () => {
    const { logger, lines, raw } = captureLogs('info');
    const putty = [
      'PuTTY-User-Key-File-3: ssh-ed25519',
      'Encryption: none',
      'Comment: ops',
      'Public-Lines: 2',
      'AAAAC3NzaC1lZDI1NTE5AAAAIPublicPart',
      'Private-Lines: 1',
      'AAAAIPuTTYPrivateBody',
      'Private-MAC: 8a1f',
    ].join('\n');
    const ssh2 = [
      '---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----',
      'Comment: "ops"',
      'P2/56wAAAi4SSH2PrivateBody',
      '---- END SSH2 ENCRYPTED PRIVATE KEY ----',
    ].join('\n');
    const ssh2Public =
      '---- BEGIN SSH2 PUBLIC KEY ----\nAAAAB3NzaC1yc2EPublic\n---- END SSH2 PUBLIC KEY ----';
    logger.info({ key: putty, other: ssh2Public }, `cannot use ${JSON.stringify(ssh2)}`);
    expect(
      ['PuTTYPrivateBody', 'SSH2PrivateBody'].filter((body) => raw.join('').includes(body)),
    ).toEqual([]);
    expect(lines[0]).toMatchObject({
      key: `${putty.slice(0, putty.indexOf('Private-Lines: 1') + 16)}${REDACTED}Private-MAC: 8a1f`,
      other: ssh2Public,
      msg: `cannot use "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----${REDACTED}---- END SSH2 ENCRYPTED PRIVATE KEY ----"`,
    });
  });

  it("logs an error's raw bytes by their size, never the request they hold", async () => {
    const { logger, lines } = captureLogs('info');
    // What Node's HTTP parser attaches to the error of a message it refuses: the bytes read,
    // headers and all.
    const server = http.createServer();
    const refused = new Promise<Error>((resolve) =>
      server.on('clientError', (err: Error, socket: Duplex) => {
        socket.destroy();
        resolve(err);
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const request = 'GET /API/item HTTP/1.1\r\nCookie: vsid=Secret-cookie\r\nX: \x01\r\n\r\n';
      await rawExchange(port, Buffer.from(request, 'latin1'));
      const err = await refused;
      const { rawPacket } = err as { rawPacket?: Buffer };
      expect(Buffer.isBuffer(rawPacket) && rawPacket.toString('latin1')).toContain('Secret-cookie');
      logger.error({ err, bytes: new Uint8Array(rawPacket ?? []) }, 'refused');
      expect(lines[0]).toMatchObject({
        err: { code: 'HPE_INVALID_HEADER_TOKEN', rawPacket: `[${rawPacket?.length} bytes]` },
        bytes: `[${rawPacket?.length} bytes]`,
      });
    } finally {
      server.close();
    }
  });

  it('answers alike before and after a flood of header names a client chose', () => {
    const { logger, lines } = captureLogs('info');
    const line = {
      event: 'request',
      Cookie: 'vsid=Secret-cookie',
      tokenExpiresAt: 1,
      rawHeaders: ['X-Api-Key', 'Secret-key', 'Host', 'vidispine'],
    };
    const logged = {
      ...line,
      Cookie: REDACTED,
      rawHeaders: ['X-Api-Key', REDACTED, 'Host', 'vidispine'],
    };
    logger.info(line, 'before');
    // More names than are remembered, some longer than any remembered.
    const names = Array.from({ length: 3000 }, (_, i) => `X-Name-${i}-${'a'.repeat(i % 100)}`);
    const flood = names.flatMap((name, i) => [name, `value-${i}`]);
    logger.info({ rawHeaders: [...flood, 'Cookie', 'vsid=Secret-cookie'] }, 'flood');
    logger.info(line, 'after');
    expect(lines[0]).toMatchObject(logged);
    expect(lines[1]?.rawHeaders).toEqual([...flood, 'Cookie', REDACTED]);
    expect(lines[2]).toMatchObject(logged);
  });

  it('reads a list as headers only under a name that says it holds headers', () => {
    const { logger, lines } = captureLogs('info');
    // Names of Kubernetes Secrets, or of settings: a secret's name is no secret, nor is the
    // name after it (OpenShift names its global pull secret `pull-secret`).
    const fields = {
      imagePullSecrets: ['pull-secret', 'mirror-pull-secret'],
      settings: ['vidispine.password', 'vidispine.passwordFile'],
      users: ['token-reader', 'ops'],
    };
    logger.info({ config: fields }, 'starting');
    expect(lines[0]?.config).toEqual(fields);
    // A header list under any name for one keeps being read so.
    logger.info({ trailers: ['Cookie', 'vsid=1'], rawTrailers: ['X-Api-Key', 'k'] }, 'x');
    expect(lines[1]).toMatchObject({
      trailers: ['Cookie', REDACTED],
      rawTrailers: ['X-Api-Key', REDACTED],
    });
  });

  it.each([
    ['harmless keys', HARMLESS_KEYS],
    ['the keys the project logs', LOGGED_KEYS],
  ])('keeps %s as they are', (_, keys) => {
    const { logger, lines } = captureLogs('info');
    const fields = Object.fromEntries(keys.map((key) => [key, `${key} kept`]));
    logger.info({ nested: fields }, 'logged');
    expect(lines[0]?.nested).toEqual(fields);
  });
});

describe('createLogger', () => {
  it('writes JSON lines with level label, time, service and redacted content', () => {
    const { logger, lines } = captureLogs('info');
    logger.info(
      { event: 'x', headers: { authorization: 'Basic YWRtaW46czNjcjN0' } },
      'sent Authorization: token VSID-77aa99',
    );
    logger.debug('not written');
    const child = logger.child({ user: 'ingest', password: 'pw' }); // bindings: top-level names only
    child.warn({ err: new Error('url http://x:pw2@h/') }, 'failed');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      service: 'vidispine-auth-proxy',
      event: 'x',
      headers: { authorization: REDACTED },
      msg: `sent Authorization: ${REDACTED}`,
    });
    expect(typeof lines[0]?.time).toBe('string');
    expect(lines[1]).toMatchObject({
      level: 'warn',
      user: 'ingest',
      password: REDACTED,
      err: { type: 'Error', message: `url http://x:${REDACTED}@h/` },
    });
  });

  it("censors a child's bindings by the same names, at every generation", () => {
    const { logger, lines, raw } = captureLogs('info');
    const child = logger.child({ listener: 'ingest', Cookie: 'vsid=Secret-cookie' });
    child
      .child({ passwordHash: 'Secret-hash', tokenExpiresAt: '2026-01-01T00:00:00Z' })
      .child({}, { level: 'info' })
      .info('bound');
    expect(['Secret-cookie', 'Secret-hash'].filter((s) => raw.join('').includes(s))).toEqual([]);
    expect(lines[0]).toMatchObject({
      listener: 'ingest',
      Cookie: REDACTED,
      passwordHash: REDACTED,
      tokenExpiresAt: '2026-01-01T00:00:00Z',
    });
  });

  it('honours the level', () => {
    const { logger, lines } = captureLogs('warn');
    logger.info('no');
    logger.error('yes');
    expect(lines.map((l) => l.msg)).toEqual(['yes']);
  });
});
