import { PageHeader } from '../components/ui';

export default function TimelinesPage() {
  return <PageHeader title="Timelines" />;
}
