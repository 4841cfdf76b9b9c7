// The stop every local fake server shares: drop open (keep-alive) connections, then close.
export interface ClosableServer {
  closeAllConnections(): void;
  close(done: () => void): unknown;
}

/** Close a fake server and every connection to it; nothing to do when it never started. */
export async function closeServer(server: ClosableServer | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}
