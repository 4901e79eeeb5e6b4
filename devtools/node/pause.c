/*
 * The pod sandbox's one process for the dev node: it holds the pod's namespaces open, reaps the
 * orphans that land on it as PID 1, and exits 0 on SIGTERM or SIGINT so a pod stops at once
 * instead of waiting out the kill timeout. Signals are taken synchronously with sigwaitinfo, so
 * there is no handler and nothing async-signal-unsafe.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

int main(void) {
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGCHLD);
    sigaddset(&wanted, SIGTERM);
    sigaddset(&wanted, SIGINT);
    if (sigprocmask(SIG_BLOCK, &wanted, NULL) != 0) {
        return 1;
    }
    for (;;) {
        int received = sigwaitinfo(&wanted, NULL);
        if (received == SIGTERM || received == SIGINT) {
            return 0;
        }
        while (waitpid(-1, NULL, WNOHANG) > 0) {
        }
    }
}
