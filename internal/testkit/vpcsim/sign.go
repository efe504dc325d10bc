package vpcsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Service is the service name in the credential scope of a VPC API
// request's signature.
const Service = "vpc"

// maxSkew is how far X-TC-Timestamp may be from the server's clock.
const maxSkew = 5 * time.Minute

// authError is a failed authentication: an API error code and message.
type authError struct{ code, msg string }

// authenticate checks the request's TC3-HMAC-SHA256 signature the way the
// API gateway does (https://cloud.tencent.com/document/api/213/30654): it
// rebuilds the canonical request from the method, the URI "/", the query
// string, the signed headers (lower-case names and values, content-type
// and host at least) and the SHA-256 of the body (or of "UNSIGNED-PAYLOAD"
// when X-TC-Content-SHA256 says so), derives the signing key from the
// SecretKey, the date and the service, and compares. It returns the
// SecretId used.
func (c *Cloud) authenticate(r *http.Request, body []byte) (string, *authError) {
	const algorithm = "TC3-HMAC-SHA256"
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, algorithm+" ")
	if !ok {
		return "", &authError{CodeInvalidAuthorization, "Authorization is missing or does not use " + algorithm + "."}
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	credential, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	parts := strings.Split(credential, "/")
	if len(parts) != 4 || signedHeaders == "" || signature == "" {
		return "", &authError{CodeInvalidAuthorization, "Authorization is malformed: want Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=..., Signature=..."}
	}
	secretID, date, service, terminator := parts[0], parts[1], parts[2], parts[3]

	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return secretID, &authError{CodeMissingParameter, "X-TC-Timestamp is missing or not a number."}
	}
	now := c.now()
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return secretID, &authError{CodeSignatureExpire, "Signature expired: the timestamp is too far from the server time " + strconv.FormatInt(now.Unix(), 10) + "."}
	}

	secretKey, aerr := c.secretKeyFor(secretID, r.Header.Get("X-TC-Token"))
	if aerr != nil {
		return secretID, aerr
	}

	names := strings.Split(signedHeaders, ";")
	var canonHeaders strings.Builder
	hasCT, hasHost := false, false
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		var v string
		switch n {
		case "host":
			v, hasHost = r.Host, true
		case "content-type":
			v, hasCT = r.Header.Get("Content-Type"), true
		default:
			v = r.Header.Get(n)
		}
		canonHeaders.WriteString(n + ":" + strings.ToLower(strings.TrimSpace(v)) + "\n")
	}
	if !hasCT || !hasHost {
		return secretID, &authError{CodeSignatureFailure, "SignedHeaders must include content-type and host."}
	}
	payload := sha256Hex(body)
	if r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD" {
		payload = sha256Hex([]byte("UNSIGNED-PAYLOAD"))
	}
	canonical := strings.Join([]string{r.Method, "/", r.URL.RawQuery, canonHeaders.String(), signedHeaders, payload}, "\n")

	wantDate := time.Unix(ts, 0).UTC().Format("2006-01-02")
	scope := date + "/" + service + "/" + terminator
	stringToSign := strings.Join([]string{algorithm, strconv.FormatInt(ts, 10), scope, sha256Hex([]byte(canonical))}, "\n")
	kDate := hmacSHA256([]byte("TC3"+secretKey), wantDate)
	kService := hmacSHA256(kDate, Service)
	kSigning := hmacSHA256(kService, "tc3_request")
	want := hex.EncodeToString(hmacSHA256(kSigning, stringToSign))
	if date != wantDate || service != Service || terminator != "tc3_request" ||
		!hmac.Equal([]byte(want), []byte(signature)) {
		return secretID, &authError{CodeSignatureFailure, "The provided credentials could not be validated. Please check your signature is correct."}
	}
	return secretID, nil
}

// secretKeyFor returns the SecretKey of secretID: the account's, or a
// temporary key's if token is its token and it has not expired.
func (c *Cloud) secretKeyFor(secretID, token string) (string, *authError) {
	if secretID == c.secretID && c.secretID != "" {
		return c.secretKey, nil
	}
	c.mu.Lock()
	k, ok := c.tempKeys[secretID]
	now := c.now()
	c.mu.Unlock()
	if !ok {
		return "", &authError{CodeSecretIDNotFound, "The SecretId is not found, please ensure that your SecretId is correct."}
	}
	if token == "" || !hmac.Equal([]byte(token), []byte(k.token)) || !now.Before(k.expires) {
		return "", &authError{CodeTokenFailure, "Token verification failed. Please check your Token is correct."}
	}
	return k.key, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
