/* The SIGBUS handler (see fault.h): a fault in a mapped store or model is
 * logged, naming the file, and ends the process with its own status. Apart
 * from server.c because all of it runs in a signal handler, where only
 * async-signal-safe calls are allowed: the mapping list
 * (kga_mapped_file_owner), the log line builder, write and _exit. */
#include "fault.h"

#include <signal.h>
#include <stddef.h>
#include <unistd.h>

#include "base/mapped_file.h"
#include "log.h"

static struct sigaction previous;
static int installed;

static void on_fault(int signum, siginfo_t *si, void *context)
{
    (void)context;
    const char *path = kga_mapped_file_owner(si->si_addr);
    if (path == NULL) {
        /* Not a file of ours: the default action, when the faulting
         * instruction runs again on return. */
        static const struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigaction(signum, &dfl, NULL);
        return;
    }
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_ERROR, "mapped_file_fault");
    kga_logline_str(&l, "path", path);
    kga_logline_int(&l, "exit_status", KGA_SERVER_EXIT_FILE_FAULT);
    kga_logline_str(&l, "message",
                    "a read of this mapped file faulted: it was truncated "
                    "in place while in use; exiting (install files by "
                    "writing a new file and renaming it over the old one)");
    kga_logline_end(&l);
    _exit(KGA_SERVER_EXIT_FILE_FAULT);
}

int kga_fault_handler_install(void)
{
    struct sigaction sa = {.sa_sigaction = on_fault,
                           .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &previous) != 0)
        return -1;
    installed = 1;
    return 0;
}

void kga_fault_handler_remove(void)
{
    if (installed)
        sigaction(SIGBUS, &previous, NULL);
    installed = 0;
}
