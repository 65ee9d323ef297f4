package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apiserver/pkg/server/flagz"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// runAPIServer mirrors the RunE of app.NewAPIServerCommand, but with our own
// context instead of genericapiserver.SetupSignalContext (which would install
// a competing signal handler that os.Exit()s on the second signal).
func runAPIServer(ctx context.Context, args []string) error {
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	nfs := s.Flags()
	for _, f := range nfs.FlagSets {
		fs.AddFlagSet(f)
	}
	s.Flagz = flagz.NamedFlagSetsReader{FlagSets: nfs}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	featureGate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	if err := logsapi.ValidateAndApply(s.Logs, featureGate); err != nil {
		return err
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return utilerrors.NewAggregate(errs)
	}
	return app.Run(ctx, completed)
}

func restConfig(server string, p *pki) *rest.Config {
	return &rest.Config{
		Host:            server,
		BearerToken:     p.token,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		QPS:             1000,
		Burst:           1000,
		Timeout:         30 * time.Second,
	}
}

func waitReady(ctx context.Context, rc *rest.Config, apiErr chan error) error {
	client, err := rest.HTTPClientFor(rc)
	if err != nil {
		return err
	}
	client.Timeout = 2 * time.Second
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, rc.Host+"/readyz", nil)
		if resp, err := client.Do(req); err != nil {
			last = err.Error()
		} else {
			b := make([]byte, 4096)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b[:n])))
		}
		select {
		case err := <-apiErr:
			apiErr <- err // keep it for shutdown()
			return fmt.Errorf("kube-apiserver exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("kube-apiserver not ready: %w (last /readyz: %s)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readCRDs returns all CustomResourceDefinition documents in the given files
// or directories (*.yaml, *.yml); other kinds are skipped.
func readCRDs(paths []string) ([]*unstructured.Unstructured, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			files = append(files, m...)
		}
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil {
				r.Close()
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			u := &unstructured.Unstructured{Object: obj}
			if obj != nil && u.GetKind() == "CustomResourceDefinition" {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// crdHashAnnotation holds the hash of the CRD as this launcher last applied it.
const crdHashAnnotation = "cairn-testenv/applied-hash"

func applyCRDs(ctx context.Context, rc *rest.Config, crds []*unstructured.Unstructured) error {
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	mc, err := metadata.NewForConfig(rc)
	if err != nil {
		return err
	}
	gvr := apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")
	res := dc.Resource(gvr)
	opts := metav1.ApplyOptions{FieldManager: "cairn-testenv", Force: true}
	var applied []*unstructured.Unstructured
	for _, crd := range crds {
		// A CRD this launcher applied before with the same content (a restart, or a state dir copied from
		// one that has them) is not sent again: the API server's validation of a large CRD costs seconds
		// of CPU even when nothing changes. Only its metadata is read to tell.
		b, err := json.Marshal(crd.Object)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		hash := hex.EncodeToString(sum[:16])
		// ResourceVersion "0": from the API server's watch cache (synced before it reports ready), not a
		// read and decode of the whole CRD from etcd.
		if got, err := mc.Resource(gvr).Get(ctx, crd.GetName(), metav1.GetOptions{ResourceVersion: "0"}); err == nil && got.GetAnnotations()[crdHashAnnotation] == hash {
			continue
		}
		applied = append(applied, crd)
		ann := crd.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[crdHashAnnotation] = hash
		crd.SetAnnotations(ann)
		if _, err := res.Apply(ctx, crd.GetName(), crd, opts); err != nil {
			return fmt.Errorf("apply CRD %s: %w", crd.GetName(), err)
		}
	}
	// Only the CRDs applied now are waited for: one found with the same hash was established by the run
	// that applied it, and the API server serves its resources once it is ready (its readiness waits for
	// the CRD informer's sync). Reading each large CRD whole to see its condition again cost ~1 CPU-s.
	for _, crd := range applied {
		for {
			got, err := res.Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %w", crd.GetName(), ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
