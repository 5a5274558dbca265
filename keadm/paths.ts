/** Where keadm puts things: every path under --config-dir and --data-dir, as KubeEdge lays them out. */
import { join } from 'node:path';

export interface Dirs {
  configDir: string;
  dataDir: string;
}

export const DEFAULT_DIRS: Dirs = { configDir: '/etc/kubeedge', dataDir: '/var/lib/kubeedge' };

export function cloudPaths({ configDir, dataDir }: Dirs) {
  return {
    caCert: join(configDir, 'ca', 'rootCA.crt'),
    caKey: join(configDir, 'ca', 'rootCA.key'),
    serverCert: join(configDir, 'certs', 'cloudcore.crt'),
    serverKey: join(configDir, 'certs', 'cloudcore.key'),
    config: join(configDir, 'config', 'cloudcore.yaml'),
    tokenSecret: join(configDir, 'tokens', 'tokensecret'),
    token: join(configDir, 'tokens', 'token'),
    adminToken: join(configDir, 'admin.token'),
    kubeconfig: join(configDir, 'admin.kubeconfig'),
    db: join(dataDir, 'cloudcore.db'),
  };
}

export function edgePaths({ configDir, dataDir }: Dirs) {
  return {
    caCert: join(configDir, 'ca', 'rootCA.crt'),
    cert: join(configDir, 'certs', 'server.crt'),
    key: join(configDir, 'certs', 'server.key'),
    config: join(configDir, 'config', 'edgecore.yaml'),
    db: join(dataDir, 'edgecore.db'),
    edged: join(dataDir, 'edged'),
  };
}

/** Files that share a prefix with a database: its outbox and twin journals, temp files and any file moved aside. */
export function dbSiblings(db: string): RegExp {
  const base = db.split('/').pop() ?? db;
  return new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\.outbox|\\.twins(?:\\.clean)?|\\.changes)?(\\.tmp|\\.corrupt-\\d+)?$`);
}
