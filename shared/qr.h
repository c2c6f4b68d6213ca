/* qr.h — QR codes of login links (libqrencode): as SVG for the web UI, as text for a terminal. */
#ifndef RINGCAST_QR_H
#define RINGCAST_QR_H

#include <stdio.h>

/* An SVG image of text's QR code (malloc'd), or NULL. */
char	*qr_svg(const char *text);
/* text's QR code in half blocks on f, for a terminal: 0, or -1. */
int	qr_terminal(FILE *f, const char *text);

#endif
