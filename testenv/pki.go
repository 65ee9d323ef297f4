package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type pki struct {
	caPEM                                  []byte
	token                                  string
	caCert, servingCert, servingKey, saKey string
	tokenFile                              string
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func newKey(path string) (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return k, writePEM(path, "EC PRIVATE KEY", der)
}

// writePKI creates DIR/pki with a self-signed CA, a serving certificate for
// 127.0.0.1/localhost (+ the in-cluster service IP/names), a service-account
// signing key and a static admin token in group system:masters. A DIR/pki
// left by an earlier run is reused as it is (restart on the same dir: the
// same CA, serving certificate, service-account key and admin token, so
// kubeconfigs and service-account tokens issued before stay valid).
func writePKI(dir string) (*pki, error) {
	d := filepath.Join(dir, "pki")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, err
	}
	p := &pki{
		caCert: filepath.Join(d, "ca.crt"), servingCert: filepath.Join(d, "apiserver.crt"),
		servingKey: filepath.Join(d, "apiserver.key"), saKey: filepath.Join(d, "sa.key"),
		tokenFile: filepath.Join(d, "tokens.csv"),
	}
	if ok, err := p.load(); ok || err != nil {
		return p, err
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := newKey(filepath.Join(d, "ca.key"))
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cairn-testenv-ca"},
		NotBefore: now, NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(p.caCert, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	p.caPEM, _ = os.ReadFile(p.caCert)
	ca, _ := x509.ParseCertificate(caDER)

	srvKey, err := newKey(p.servingKey)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now, NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, srvKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(p.servingCert, "CERTIFICATE", srvDER); err != nil {
		return nil, err
	}
	if _, err := newKey(p.saKey); err != nil {
		return nil, err
	}

	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	p.token = hex.EncodeToString(b)
	line := fmt.Sprintf("%s,cairn-admin,cairn-admin,\"system:masters\"\n", p.token)
	return p, os.WriteFile(p.tokenFile, []byte(line), 0o600)
}

func writeKubeconfig(path, server string, p *pki) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: cairn-testenv
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: cairn-admin
  user:
    token: %s
contexts:
- name: cairn-testenv
  context:
    cluster: cairn-testenv
    user: cairn-admin
    namespace: default
current-context: cairn-testenv
`, server, base64.StdEncoding.EncodeToString(p.caPEM), p.token)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// load reads a complete PKI written by an earlier run. false (and no error):
// there is none yet (a partial one, from a run killed while writing it, is
// replaced).
func (p *pki) load() (bool, error) {
	for _, f := range []string{p.caCert, p.servingCert, p.servingKey, p.saKey, p.tokenFile} {
		if _, err := os.Stat(f); err != nil {
			return false, nil
		}
	}
	ca, err := os.ReadFile(p.caCert)
	if err != nil {
		return false, err
	}
	tokens, err := os.ReadFile(p.tokenFile)
	if err != nil {
		return false, err
	}
	token, _, ok := strings.Cut(string(tokens), ",")
	if !ok || token == "" {
		return false, fmt.Errorf("%s: no admin token", p.tokenFile)
	}
	p.caPEM, p.token = ca, token
	return true, nil
}
