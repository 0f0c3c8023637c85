/* Signal handling: handlers only set flags; the main loop acts on them. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "voc/kafka.h"

static volatile sig_atomic_t *stop_flag;
static volatile sig_atomic_t *reload_flag;

static void on_stop(int sig)
{
    (void)sig;
    /* The first signal asks for a clean stop; a second means "now". */
    if (*stop_flag)
        _exit(1);
    *stop_flag = 1;
}

static void on_reload(int sig)
{
    (void)sig;
    *reload_flag = 1;
}

void voc_signals_install(volatile sig_atomic_t *stop, volatile sig_atomic_t *reload)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    stop_flag = stop;
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (reload) {
        reload_flag = reload;
        sa.sa_handler = on_reload;
        sigaction(SIGHUP, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);
}
