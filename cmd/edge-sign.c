/* edge-sign: not implemented yet (see the open issues). */
#include <stdio.h>

#include "exit.h"

int main(void)
{
	fputs("edge-sign: not implemented\n", stderr);
	return EDGE_EUSAGE;
}
