/*
 * jack.h — test library: a private JACK server on the dummy driver, which
 * PortAudio opens as a real device (host API JACK, device "system"), and
 * its command-line tools.  Needs Debian's jackd2.
 */
#ifndef RINGCAST_JACK_H
#define RINGCAST_JACK_H

#include <sys/types.h>

#include <stddef.h>

struct jack {
	char	server[64];	/* rc-test-PID-jack: tests/run.sh can kill it */
	char	metro[64];	/* the metronome's client name */
	char	log[160];	/* jackd's output */
	pid_t	jackd;
	pid_t	metro_pid;
};

/*
 * Start `jackd -n SERVER --no-realtime -d dummy -C channels -P channels
 * -r 48000 -p 64` and wait until it serves (jack_wait, within timeout_ms).
 * Every JACK client this process starts from then on (ringcastd and its
 * capture included) finds it through JACK_DEFAULT_SERVER, and none may
 * start a server of its own.  0, or -1 with err saying why (jackd's log).
 */
int	jack_start(struct jack *j, int channels, int timeout_ms, char *err,
	    size_t errlen);
/* The environment of a machine without JACK: clients find no server. */
void	jack_env_none(void);
/* jack_metro at 600 bpm as client j->metro; 0 or -1. */
int	jack_metro_start(struct jack *j);
/*
 * The n-th port (from 0) of jack_lsp's list that starts with prefix, once
 * it is there (a client registers its ports when it likes: polled within
 * timeout_ms).  0, or -1 with jack_lsp's list in port.
 */
int	jack_port_wait(const char *prefix, int n, char *port, size_t len,
	    int timeout_ms);
/* jack_connect from to; 0, or -1 with its output in err. */
int	jack_connect(const char *from, const char *to, char *err, size_t errlen);
/* The metronome and the server stopped, their /dev/shm objects removed. */
void	jack_stop(struct jack *j);

#endif
