// cairn-testgcs: a GCS-compatible server on 127.0.0.1 for Cairn's tests and sandbox, built from the Go module
// github.com/fsouza/fake-gcs-server (its `fakestorage` package serves the JSON API and the XML API's list,
// get and delete), with what Cairn's storage client (the Rust `object_store` crate) needs beyond it:
//
//   - the XML API's plain object upload (`PUT /<bucket>/<object>`, answering with the object's ETag), which
//     fake-gcs-server refuses without an `uploadType`; served as the JSON API's media upload of that name;
//   - authentication as GCS does it for a service account's self-signed JWT: every request must carry
//     `Authorization: Bearer <JWT>` signed (RS256) with the private key of the one service account this
//     server makes at start, issued by its client email and not expired; anything else is 401, so a wrong
//     key is refused as GCS refuses it.
//
// It prints ONE JSON line on standard output once it listens:
//
//	{"endpoint": "http://127.0.0.1:PORT", "clientEmail": "...", "privateKey": "-----BEGIN PRIVATE KEY-----...",
//	 "otherPrivateKey": "...", "buckets": [...]}
//
// (`otherPrivateKey`: a well-formed key of no account, the "wrong key" of the tests.)
//
// and runs until its standard input closes (the caller holds it) or it is signalled.
package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

const clientEmail = "cairn-test@cairn-test.iam.gserviceaccount.com"

type buckets []string

func (b *buckets) String() string     { return strings.Join(*b, ",") }
func (b *buckets) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var names buckets
	flag.Var(&names, "bucket", "bucket to create (repeatable)")
	flag.Parse()

	key, keyPEM := newKey()
	_, otherPEM := newKey()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	host := fmt.Sprintf("127.0.0.1:%d", port)
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: host, ExternalURL: "http://" + host,
		NoListener: true, Writer: io.Discard,
	})
	check(err)
	for _, b := range names {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	handler := authenticated(&key.PublicKey, xmlUpload(srv.HTTPHandler()))
	go func() { check(http.Serve(ln, handler)) }()

	out, err := json.Marshal(map[string]any{"endpoint": "http://" + host, "clientEmail": clientEmail, "privateKey": keyPEM, "otherPrivateKey": otherPEM, "buckets": names})
	check(err)
	fmt.Println(string(out))
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// newKey makes an RSA key and its PKCS#8 PEM, as a service account key file carries it.
func newKey() (*rsa.PrivateKey, string) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	check(err)
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn-testgcs:", err)
		os.Exit(1)
	}
}

// authenticated refuses (401, GCS's XML error) a request without a valid self-signed JWT of the account.
func authenticated(pub *rsa.PublicKey, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := verify(pub, r.Header.Get("Authorization")); why != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AuthenticationRequired</Code><Message>%s</Message></Error>", why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// verify says why `authorization` is not a valid bearer JWT of the account ("" when it is).
func verify(pub *rsa.PublicKey, authorization string) string {
	token, ok := strings.CutPrefix(authorization, "Bearer ")
	if !ok {
		return "no bearer token"
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "the token is not a JWT"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "the token's signature is not base64url"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return "the token is not signed by the service account's key"
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "the token's claims are not base64url"
	}
	var claims struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	if json.Unmarshal(body, &claims) != nil {
		return "the token's claims are not JSON"
	}
	if claims.Iss != clientEmail {
		return "the token is issued by an unknown service account"
	}
	if claims.Exp < time.Now().Unix() {
		return "the token has expired"
	}
	return ""
}

// xmlUpload serves the XML API's plain upload `PUT /<bucket>/<object>` as the JSON API's media upload of that
// object, answering as the XML API does (200, the object's ETag in the header).
func xmlUpload(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, "/")
		bucket, object, ok := strings.Cut(path, "/")
		api := strings.HasPrefix(path, "storage/") || strings.HasPrefix(path, "upload/") || strings.HasPrefix(path, "download/") ||
			strings.HasPrefix(path, "batch/") || strings.HasPrefix(path, "_internal/")
		if r.Method != http.MethodPut || !ok || object == "" || api || r.URL.Query().Get("uploadType") != "" || r.URL.Query().Get("X-Goog-Algorithm") != "" {
			next.ServeHTTP(w, r)
			return
		}
		inner := r.Clone(r.Context())
		inner.Method = http.MethodPost
		inner.URL.Path = "/upload/storage/v1/b/" + bucket + "/o"
		inner.URL.RawPath = ""
		inner.URL.RawQuery = url.Values{"uploadType": {"media"}, "name": {object}}.Encode()
		inner.RequestURI = ""
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, inner)
		if rec.Code != http.StatusOK {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = io.Copy(w, bytes.NewReader(rec.Body.Bytes()))
			return
		}
		var obj struct {
			Etag string `json:"etag"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &obj)
		w.Header().Set("ETag", `"`+obj.Etag+`"`)
		w.WriteHeader(http.StatusOK)
	})
}
