/* Placeholder until the node program lands (issue 2). */
#include <stdio.h>
int main(void)
{
	fputs("colonnade: not built yet\n", stderr);
	return 1;
}
