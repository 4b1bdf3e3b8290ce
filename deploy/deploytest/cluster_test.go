package deploytest

import (
	"encoding/xml"
	"slices"
	"strconv"
	"strings"
	"testing"

	"settlemon/pkg/event"
)

// The cluster stack and the ClickHouse and Keeper configurations it mounts.
const (
	clusterCHConfig     = "deploy/cluster/clickhouse-cluster.xml"
	clusterKeeperConfig = "deploy/cluster/keeper.xml"
	clusterStack        = "deploy/cluster/docker-compose.yml"
)

func loadCluster(tb testing.TB) composeFile {
	tb.Helper()
	for _, st := range stacks {
		if st.Path == clusterStack {
			return loadCompose(tb, st)
		}
	}
	tb.Fatalf("%s is not in this package's stacks", clusterStack)
	return composeFile{}
}

// TestClusterKafka: three brokers, each a KRaft voter, replication 3 with
// min.insync.replicas 2, the topics created with replication 3, and every
// client bootstrapping from all three.
func TestClusterKafka(t *testing.T) {
	c := loadCluster(t)
	bs := brokers(c)
	if len(bs) != 3 {
		t.Fatalf("%s: brokers %v, want three", clusterStack, bs)
	}
	var voters, addrs []string
	for _, b := range bs {
		e := c.Services[b].Environment
		voters = append(voters, e["KAFKA_NODE_ID"]+"@"+b+":9093")
		addrs = append(addrs, b+":9092")
		for k, want := range map[string]string{"KAFKA_DEFAULT_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2",
			"KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "3", "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "2"} {
			if e[k] != want {
				t.Errorf("service %s: %s=%q, want %s", b, k, e[k], want)
			}
		}
	}
	for _, b := range bs {
		if got := strings.Split(c.Services[b].Environment["KAFKA_CONTROLLER_QUORUM_VOTERS"], ","); !sameSet(got, voters) {
			t.Errorf("service %s: KAFKA_CONTROLLER_QUORUM_VOTERS %v, want every broker by its node id %v", b, got, voters)
		}
	}
	if got := c.Services["kafka-init"].Environment["REPLICATION_FACTOR"]; got != "3" {
		t.Errorf("service kafka-init: REPLICATION_FACTOR=%q, want 3", got)
	}
	for _, name := range sortedNames(appServices(t, c)) {
		if v, ok := c.Services[name].Environment[envBrokers]; ok && !sameSet(strings.Split(effective(v), ","), addrs) {
			t.Errorf("service %s: %s=%q, want all of %v", name, envBrokers, v, addrs)
		}
	}
}

type clusterXML struct {
	Macros struct {
		Cluster string `xml:"cluster"`
		Shard   struct {
			FromEnv string `xml:"from_env,attr"`
		} `xml:"shard"`
		Replica struct {
			FromEnv string `xml:"from_env,attr"`
		} `xml:"replica"`
	} `xml:"macros"`
	RemoteServers struct {
		Clusters []struct {
			XMLName xml.Name
			Shards  []struct {
				InternalReplication bool `xml:"internal_replication"`
				Replicas            []struct {
					Host string `xml:"host"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:",any"`
	} `xml:"remote_servers"`
	ZooKeeper []struct {
		Host string `xml:"host"`
	} `xml:"zookeeper>node"`
}

type keeperXML struct {
	ServerID struct {
		FromEnv string `xml:"from_env,attr"`
	} `xml:"keeper_server>server_id"`
	Servers []struct {
		ID       string `xml:"id"`
		Hostname string `xml:"hostname"`
	} `xml:"keeper_server>raft_configuration>server"`
}

// TestClusterClickHouse: the four ClickHouse services are the nodes of
// clickhouse-cluster.xml's clusters, each with its shard's macro, replicas
// distinct, coordinated by the three Keeper services of keeper.xml, and the
// migration runs ON CLUSTER the one that replicates.
func TestClusterClickHouse(t *testing.T) {
	c := loadCluster(t)
	var cfg clusterXML
	if err := xml.Unmarshal(readRepoFile(t, clusterCHConfig), &cfg); err != nil {
		t.Fatalf("parsing %s: %v", clusterCHConfig, err)
	}
	nodes := servicesOf(c, clickhouseImage)
	if len(nodes) != 4 {
		t.Fatalf("%s: ClickHouse nodes %v, want 2 shards × 2 replicas", clusterStack, nodes)
	}
	replicated := ""
	for _, cl := range cfg.RemoteServers.Clusters {
		var hosts []string
		for i, sh := range cl.Shards {
			for _, r := range sh.Replicas {
				hosts = append(hosts, r.Host)
				if !sh.InternalReplication {
					continue
				}
				if got := c.Services[r.Host].Environment[cfg.Macros.Shard.FromEnv]; got != strconv.Itoa(i+1) {
					t.Errorf("service %s: %s=%q, but %s puts it in shard %d of %s", r.Host, cfg.Macros.Shard.FromEnv, got, clusterCHConfig, i+1, cl.XMLName.Local)
				}
			}
			if sh.InternalReplication {
				replicated = cl.XMLName.Local
			}
		}
		if !sameSet(hosts, nodes) {
			t.Errorf("%s: cluster %s has nodes %v, the compose file %v", clusterCHConfig, cl.XMLName.Local, hosts, nodes)
		}
	}
	if replicated == "" || replicated != cfg.Macros.Cluster {
		t.Errorf("%s: the replicated cluster is %q, the {cluster} macro %q", clusterCHConfig, replicated, cfg.Macros.Cluster)
	}
	replicas := map[string]string{}
	for _, n := range nodes {
		r := c.Services[n].Environment[cfg.Macros.Replica.FromEnv]
		if r == "" {
			t.Errorf("service %s: %s (its {replica} macro) is not set", n, cfg.Macros.Replica.FromEnv)
		} else if other, dup := replicas[r]; dup {
			t.Errorf("services %s and %s: the same {replica} macro %q", n, other, r)
		}
		replicas[r] = n
		if !slices.ContainsFunc(c.Services[n].Volumes, func(m mount) bool {
			return m.Source == clusterCHConfig && strings.HasPrefix(m.Target, "/etc/clickhouse-server/config.d/")
		}) {
			t.Errorf("service %s: %s is not mounted into config.d", n, clusterCHConfig)
		}
	}

	var keeper keeperXML
	if err := xml.Unmarshal(readRepoFile(t, clusterKeeperConfig), &keeper); err != nil {
		t.Fatalf("parsing %s: %v", clusterKeeperConfig, err)
	}
	keepers := servicesOf(c, "clickhouse/clickhouse-keeper")
	var zk, raft, ids []string
	for _, n := range cfg.ZooKeeper {
		zk = append(zk, n.Host)
	}
	for _, s := range keeper.Servers {
		raft = append(raft, s.Hostname)
		if id := c.Services[s.Hostname].Environment[keeper.ServerID.FromEnv]; id != s.ID {
			t.Errorf("service %s: %s=%q, but %s gives it id %s", s.Hostname, keeper.ServerID.FromEnv, id, clusterKeeperConfig, s.ID)
		}
		ids = append(ids, s.ID)
	}
	if len(keepers) != 3 || !sameSet(zk, keepers) || !sameSet(raft, keepers) {
		t.Errorf("Keeper services %v; %s names %v, %s's quorum %v: want the same three", keepers, clusterCHConfig, zk, clusterKeeperConfig, raft)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
		t.Errorf("%s: Keeper ids %v are not distinct", clusterKeeperConfig, ids)
	}

	// Every service of the store names the cluster: the migration creates the
	// tables ON CLUSTER, the others insert synchronously into them.
	for _, name := range sortedNames(appServices(t, c)) {
		s := c.Services[name]
		if _, ok := s.Environment[envCHAddr]; !ok {
			continue
		}
		if got := s.Environment["SETTLEMON_CLICKHOUSE_CLUSTER"]; got != replicated {
			t.Errorf("service %s: SETTLEMON_CLICKHOUSE_CLUSTER=%q, want the replicated cluster %q", name, got, replicated)
		}
	}
}

// TestClusterScalesTheStages: each source's ingest and the joiner run as
// several instances, no more than their topics have partitions.
func TestClusterScalesTheStages(t *testing.T) {
	c := loadCluster(t)
	topics := scriptTopics(t)
	apps := appServices(t, c)
	for _, name := range sortedNames(apps) {
		s := apps[name]
		var topic string
		switch commandName(s.Command) {
		case "ingest":
			src, err := event.ParseSource(effective(s.Environment[envSource]))
			if err != nil {
				t.Errorf("service %s: %v", name, err)
				continue
			}
			topic = src.DefaultTopic()
		case "joiner":
			topic = event.EventsTopic
		default:
			continue
		}
		if n := s.Deploy.Replicas; n < 2 || n > topics[topic].Partitions {
			t.Errorf("service %s: deploy.replicas %d, want 2 to %d (the partitions of %s)", name, n, topics[topic].Partitions, topic)
		}
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
