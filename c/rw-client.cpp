// rw-client.cpp：教程“也可以使用文件的IO函数”一节的客户端（write()/read()，10次通讯），
// 也是“listen()的第二个参数”一节里在后台运行多个的客户端。
// sockfd: unchanged except sleep() -> sockfd_sleep() (see README.md).
#include <iostream>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <unistd.h>
#include <netdb.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include "sockfd_sleep.h"
using namespace std;
int main(int argc,char *argv[])
{
  if (argc!=3)
  {
    cout << "Using:./demo1 服务端的IP 服务端的端口\nExample:./demo1 192.168.101.139 5005\n\n"; 
    return -1;
  }
  int sockfd = -1;
  struct hostent* h;  
  struct sockaddr_in servaddr;    
  char buffer[1024] = {0}; 
  sockfd = socket(AF_INET,SOCK_STREAM,0);
  if (sockfd==-1)
  {
      perror("socket"); return -1;
  }
  if ( (h = gethostbyname(argv[1])) == 0 )
  { 
    cout << "gethostbyname failed.\n" << endl; close(sockfd); return -1;
  }
  memset(&servaddr,0,sizeof(servaddr));
  servaddr.sin_family = AF_INET;
  memcpy(&servaddr.sin_addr,h->h_addr,h->h_length); 
  servaddr.sin_port = htons(atoi(argv[2]));          
  if (connect(sockfd,(struct sockaddr *)&servaddr,sizeof(servaddr))!=0) 
  { 
    perror("connect"); close(sockfd); return -1; 
  }
  
  for (int ii=0;ii<10;ii++)  
  {
    int iret;
    memset(buffer,0,sizeof(buffer));
    sprintf(buffer,"这是第%d个超级女生，编号%03d。",ii+1,ii+1); 
   if ( (iret=write(sockfd,buffer,strlen(buffer)))<=0)
    { 
      perror("send"); break; 
    }
    cout << "发送：" << buffer << endl;
    memset(buffer,0,sizeof(buffer));
    if ( (iret=read(sockfd,buffer,sizeof(buffer)))<=0)
    {
       cout << "iret=" << iret << endl; break;
    }
    cout << "接收：" << buffer << endl;
    sockfd_sleep(1);
  }
  close(sockfd);
}
