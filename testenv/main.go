// cairn-testenv runs a real etcd (embedded) and a real kube-apiserver
// (in-process) on 127.0.0.1, applies CRDs, prints one JSON line to stdout and
// keeps running until SIGINT/SIGTERM, stdin EOF or parent death.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type config struct {
	dir, kubeconfigOut, auditLog string
	controllers                  string
	port                         int
	crds                         multiFlag
	keep, noStdinWatch           bool
	timeout                      time.Duration
}

// errOut is the original stderr; fd 2 itself is redirected to DIR/apiserver.log
// so that klog/etcd/apiserver chatter never reaches the caller.
var errOut = os.Stderr

var pdeath chan os.Signal

func logf(format string, args ...any) {
	fmt.Fprintf(errOut, "cairn-testenv: "+format+"\n", args...)
}

// gcPercent is the Go GC target testenv runs with unless GOGC says otherwise. Go's default (100) spent
// ~20 % of a control plane's CPU in the collector (a start from a state dir: ~1.2 of ~6.3 CPU-s, perf);
// the test suite starts ~30 control planes on two cores. 400 trades memory for most of that CPU: the
// tests' shared control plane reached ~2 GB RSS in a full run (at most a handful run at once; the
// machine has 24 GiB, and no memory pressure showed).
const gcPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if len(os.Args) > 1 && os.Args[1] == kcmSubcommand {
		os.Exit(runKCMCommand(os.Args[2:]))
	}
	ppid := os.Getppid()
	// Die with the parent (Linux). PDEATHSIG fires when the parent *thread*
	// that spawned us exits (e.g. a Rust test thread), so we use SIGUSR2 and
	// only stop if the parent *process* is gone (getppid changed).
	pdeath = make(chan os.Signal, 1)
	signal.Notify(pdeath, syscall.SIGUSR2)
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGUSR2), 0, 0, 0)
	if os.Getppid() != ppid {
		os.Exit(1)
	}

	var o config
	fs := flag.NewFlagSet("cairn-testenv", flag.ExitOnError)
	fs.StringVar(&o.dir, "dir", "", "state directory (default: fresh temp dir, removed on exit)")
	fs.IntVar(&o.port, "port", 0, "kube-apiserver secure port (0 = pick a free port)")
	fs.Var(&o.crds, "crds", "CRD YAML file or directory of *.yaml/*.yml (repeatable)")
	fs.StringVar(&o.kubeconfigOut, "kubeconfig-out", "", "where to write the admin kubeconfig (default DIR/kubeconfig)")
	fs.StringVar(&o.auditLog, "audit-log", "", "enable audit logging (Metadata level for everything) to this file")
	fs.BoolVar(&o.keep, "keep", false, "do not delete DIR on exit")
	fs.BoolVar(&o.noStdinWatch, "no-stdin-watch", false, "do not exit when stdin reaches EOF")
	fs.StringVar(&o.controllers, "controllers", defaultControllers, "kube-controller-manager controllers to run (comma-separated; empty: no controller manager)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "startup timeout (etcd + apiserver + CRDs)")
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		logf("unexpected arguments: %v", fs.Args())
		os.Exit(2)
	}
	os.Exit(run(o, ppid))
}

// stopCode is the exit code once shutdown has begun (-1 before). Parts of
// kube-apiserver klog.Fatal() when cancelled mid-startup; klog.OsExit is
// hooked so that the state dir is still removed and the exit code is ours.
var stopCode atomic.Int32

func run(o config, ppid int) (rc int) {
	stopCode.Store(-1)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchParent(ctx, cancel, ppid, !o.noStdinWatch)

	removeDir := o.dir == "" && !o.keep
	if o.dir == "" {
		d, err := os.MkdirTemp("", "cairn-testenv-")
		if err != nil {
			logf("%v", err)
			return 1
		}
		o.dir = d
	}
	dir, _ := filepath.Abs(o.dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		logf("%v", err)
		return 1
	}
	if removeDir {
		defer os.RemoveAll(dir)
	}
	klog.OsExit = func(code int) {
		if c := stopCode.Load(); c >= 0 {
			code = int(c)
		} else {
			logf("kube-apiserver exited fatally (code %d)", code)
			tailLog(filepath.Join(dir, "apiserver.log"), 30)
		}
		if removeDir {
			os.RemoveAll(dir)
		}
		os.Exit(code)
	}
	if err := redirectStderr(filepath.Join(dir, "apiserver.log")); err != nil {
		logf("redirect stderr: %v", err)
		return 1
	}

	env, err := start(ctx, o, dir)
	if env != nil {
		defer func() { stopCode.Store(int32(rc)); env.shutdown() }()
	}
	if err != nil {
		if c := context.Cause(ctx); c != nil && ctx.Err() != nil {
			logf("interrupted during startup: %v", c)
		} else {
			logf("startup failed: %v", err)
			if env != nil && env.apiErr != nil {
				tailLog(filepath.Join(dir, "apiserver.log"), 30)
			}
		}
		return 1
	}

	line, _ := json.Marshal(struct {
		Kubeconfig string `json:"kubeconfig"`
		Server     string `json:"server"`
		Dir        string `json:"dir"`
		Etcd       string `json:"etcd"`
	}{env.kubeconfig, env.server, dir, env.etcdURL})
	os.Stdout.Write(append(line, '\n'))
	os.Stdout.Sync()

	select {
	case <-ctx.Done():
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			logf("stopping: %v", c)
		} else {
			logf("stopping: signal received")
		}
	case err := <-env.apiErr:
		logf("kube-apiserver exited unexpectedly: %v", err)
		env.apiErr <- err // for shutdown()
		return 1
	}
	return 0
}

// watchParent cancels ctx when stdin hits EOF (unless disabled or stdin is
// /dev/null) or when the parent process changes (reparented => parent died).
func watchParent(ctx context.Context, cancel context.CancelCauseFunc, ppid int, stdin bool) {
	if stdin && !isDevNull(os.Stdin) {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel(errors.New("stdin closed (parent gone?)"))
		}()
	}
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if p := os.Getppid(); p != ppid || p == 1 {
					cancel(errors.New("parent process died"))
					return
				}
			case <-pdeath:
				if os.Getppid() != ppid {
					cancel(errors.New("parent process died (PDEATHSIG)"))
					return
				}
				logf("parent thread exited but parent process %d is alive; continuing", ppid)
			}
		}
	}()
}

func isDevNull(f *os.File) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat("/dev/null", &b) != nil {
		return false
	}
	return a.Mode&unix.S_IFMT == unix.S_IFCHR && a.Rdev == b.Rdev
}

func redirectStderr(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	orig, err := unix.Dup(2)
	if err != nil {
		return err
	}
	unix.CloseOnExec(orig)
	errOut = os.NewFile(uintptr(orig), "stderr")
	return unix.Dup2(int(f.Fd()), 2)
}

func tailLog(path string, n int) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	logf("last %d lines of %s:\n%s", len(lines), path, strings.Join(lines, "\n"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type testEnv struct {
	etcd                        *embed.Etcd
	apiCancel                   context.CancelFunc
	apiErr                      chan error
	kcm                         *kcmProcess
	server, etcdURL, kubeconfig string
}

func (e *testEnv) shutdown() {
	e.kcm.stop()
	if e.apiCancel != nil {
		e.apiCancel()
		// Open watches (a test's clients are still connected while it tears down) hold the apiserver's
		// graceful shutdown; this is a throwaway control plane, so give it a moment and move on.
		select {
		case <-e.apiErr:
		case <-time.After(3 * time.Second):
			logf("kube-apiserver still draining after 3s; stopping anyway")
		}
	}
	if e.etcd != nil {
		e.etcd.Close()
	}
}

func startEtcd(ctx context.Context, dir string) (*embed.Etcd, string, error) {
	cport, err := freePort()
	if err != nil {
		return nil, "", err
	}
	pport, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "cairn-testenv"
	cfg.Dir = filepath.Join(dir, "etcd")
	cfg.Logger = "zap"
	cfg.LogLevel = "warn"
	cfg.LogOutputs = []string{filepath.Join(dir, "etcd.log")}
	cu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(cport))
	pu, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(pport))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.UnsafeNoFsync = true // throwaway test data: trade durability for speed
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("etcd: %w (see %s/etcd.log)", err, dir)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, cu.String(), nil
	case err := <-e.Err():
		e.Close()
		return nil, "", fmt.Errorf("etcd: %w", err)
	case <-ctx.Done():
		e.Close()
		return nil, "", fmt.Errorf("etcd not ready: %w", ctx.Err())
	}
}

func start(ctx context.Context, o config, dir string) (*testEnv, error) {
	ctx, cancelTimeout := context.WithTimeout(ctx, o.timeout)
	defer cancelTimeout()
	t0 := time.Now()
	env := &testEnv{}

	crds, err := readCRDs(o.crds)
	if err != nil {
		return nil, fmt.Errorf("read CRDs: %w", err)
	}
	port := o.port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	env.server = fmt.Sprintf("https://127.0.0.1:%d", port)
	env.kubeconfig = o.kubeconfigOut
	if env.kubeconfig == "" {
		env.kubeconfig = filepath.Join(dir, "kubeconfig")
	}
	env.kubeconfig, _ = filepath.Abs(env.kubeconfig)

	p, err := writePKI(dir)
	if err != nil {
		return nil, fmt.Errorf("generate certificates: %w", err)
	}
	if err := writeKubeconfig(env.kubeconfig, env.server, p); err != nil {
		return nil, fmt.Errorf("write kubeconfig: %w", err)
	}

	env.etcd, env.etcdURL, err = startEtcd(ctx, dir)
	if err != nil {
		return env, err
	}
	logf("etcd ready at %s (%v)", env.etcdURL, time.Since(t0).Round(time.Millisecond))

	args := apiserverArgs(dir, port, env.etcdURL, p)
	if o.auditLog != "" {
		policy := filepath.Join(dir, "audit-policy.yaml")
		err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o600)
		if err != nil {
			return env, err
		}
		args = append(args, "--audit-policy-file="+policy, "--audit-log-path="+o.auditLog)
	}
	apiCtx, apiCancel := context.WithCancel(context.Background())
	env.apiCancel, env.apiErr = apiCancel, make(chan error, 1)
	go func() { env.apiErr <- runAPIServer(apiCtx, args) }()

	rc := restConfig(env.server, p)
	if err := waitReady(ctx, rc, env.apiErr); err != nil {
		return env, err
	}
	logf("kube-apiserver ready at %s (%v)", env.server, time.Since(t0).Round(time.Millisecond))

	if len(crds) > 0 {
		if err := applyCRDs(ctx, rc, crds); err != nil {
			return env, err
		}
		logf("%d CRDs applied and established (%v)", len(crds), time.Since(t0).Round(time.Millisecond))
	}
	// After the CRDs: the garbage collector's first discovery then covers them (it rediscovers every 30 s).
	// Not waited for: its controllers come up while the caller starts its own work.
	if o.controllers != "" {
		if env.kcm, err = startKCM(dir, env.kubeconfig, o.controllers, p); err != nil {
			return env, err
		}
		logf("kube-controller-manager started (%s) (%v)", o.controllers, time.Since(t0).Round(time.Millisecond))
	}
	return env, nil
}

func apiserverArgs(dir string, port int, etcdURL string, p *pki) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "pki"),
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingKey,
		"--client-ca-file=" + p.caCert,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saKey,
		"--service-account-signing-key-file=" + p.saKey,
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none", // 127.0.0.1 is not allowed as endpoint IP
		"--allow-privileged=true",
		"--profiling=false",
		"--v=0",
	}
}
