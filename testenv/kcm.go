package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

// kcmSubcommand is argv[1] of the child process that runs kube-controller-manager: the same binary, so the
// controllers come from the same k8s.io/kubernetes module as the apiserver, but in a process of their own
// (the two components register the same global metrics, feature gates and logging flags).
const kcmSubcommand = "kube-controller-manager"

// defaultControllers are the controllers an API-only cluster needs for objects to live and die as in a
// real cluster: owner references and foreground/background deletion (garbage collector), namespace
// deletion (namespace), each namespace's `default` ServiceAccount (serviceaccount) and, since the
// service-account key is already generated for the apiserver, tokens for Secrets of type
// service-account-token (serviceaccount-token). Nothing that needs a kubelet, a scheduler or a cloud.
const defaultControllers = "garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller"

// runKCMCommand is the child: kube-controller-manager's own command with the given flags.
func runKCMCommand(args []string) int {
	cmd := app.NewControllerManagerCommand()
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "kube-controller-manager: %v\n", err)
		return 1
	}
	return 0
}

func kcmArgs(kubeconfig, controllers string, p *pki) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--controllers=" + controllers,
		"--leader-elect=false",
		"--secure-port=0", // no HTTPS endpoint: nothing scrapes it here
		"--use-service-account-credentials=false",
		"--service-account-private-key-file=" + p.saKey,
		"--root-ca-file=" + p.caCert,
		// Discovery of new resources (CRDs installed later) every 30 s is the GC's default; keep it.
		"--v=0",
	}
}

type kcmProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startKCM runs kube-controller-manager as a child process (logs in DIR/controller-manager.log). It dies
// with testenv: SIGKILL on the death of the thread that started it, which is kept locked for the child's
// whole life, and stop() on shutdown.
func startKCM(dir, kubeconfig, controllers string, p *pki) (*kcmProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(dir, "controller-manager.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	k := &kcmProcess{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the creating *thread* exits: keep this goroutine on its thread until the
		// child is gone.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer close(k.done)
		defer log.Close()
		cmd := exec.Command(self, append([]string{kcmSubcommand}, kcmArgs(kubeconfig, controllers, p)...)...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		k.cmd = cmd
		started <- nil
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start kube-controller-manager: %w", err)
	}
	return k, nil
}

// stop ends the child: SIGTERM, then SIGKILL after 1 s (its state is all in the apiserver).
func (k *kcmProcess) stop() {
	if k == nil || k.cmd == nil {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}

// exited reports whether the child ended (a crash shows in controller-manager.log).
func (k *kcmProcess) exited() bool {
	select {
	case <-k.done:
		return true
	default:
		return false
	}
}
