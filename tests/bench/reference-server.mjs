// The reference: a sync server built from automerge-repo 2.x itself, as its documentation
// shows it (Repo + WebSocketServerAdapter + NodeFSStorageAdapter). No authentication, no
// validation: what a team would otherwise deploy.
//   node reference-server.mjs PORT DATA_DIR
import { WebSocketServer } from 'ws';
import { Repo } from '@automerge/automerge-repo';
import { WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket';
import { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs';

const [port, dir] = process.argv.slice(2);
const wss = new WebSocketServer({ port: Number(port), host: '127.0.0.1' });
new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: `reference-server-${port}`,
  // A server shares only what a client asks for, as the automerge-repo sync server does.
  sharePolicy: async () => false,
});
wss.on('listening', () => console.log(`listening on ${port}`));
process.on('SIGTERM', () => process.exit(0));
