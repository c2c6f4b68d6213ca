/* records.h — test library: saved records as `ringcast state export` writes them. */
#ifndef RINGCAST_RECORDS_H
#define RINGCAST_RECORDS_H

/*
 * Write n records to path, a JSON array: identities "imp-0" ..., named
 * "Imported 0" ..., each subscribing one channel below nch, each with one
 * alias ("was-0" ...), first and last seen at seen_ms.  0 or -1.
 */
int	records_export_write(const char *path, int n, unsigned nch,
	    unsigned long long seen_ms);

#endif
