#ifndef KGA_SERVER_FAULT_H
#define KGA_SERVER_FAULT_H

/* What the server does when reading a mapped store or model faults: the
 * file was truncated in place under it (cp over a file in use), and the
 * kernel answers a read past its new end with SIGBUS.
 *
 * It exits, with status KGA_SERVER_EXIT_FILE_FAULT and a log line naming
 * the file, rather than ending only the request that faulted. The fault can
 * come from inside OpenBLAS (the model's tensors are mapped) or from the
 * server's own code holding a lock or an allocation; jumping out of the
 * handler would leave those behind, and every other request on the same
 * snapshot faults the same way next. The process manager restarts the
 * service on files that are whole again. The server checks its files
 * before each request and periodically (reload.c), so it sees most such
 * changes before a read faults and refuses the snapshot instead; this is
 * for the change that lands during a request. A SIGBUS at an address no
 * mapped file holds takes the default action. */

/* The exit status after a fault in a mapped file. */
#define KGA_SERVER_EXIT_FILE_FAULT 3

/* Installs the SIGBUS handler for the process. Returns 0 or -1 (errno). */
int kga_fault_handler_install(void);
/* Puts back the handler there was before. */
void kga_fault_handler_remove(void);

#endif
